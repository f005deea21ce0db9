// pyruntime._core.Model: a .pyrt file opened by the C++ reader. Buffers are exposed zero-copy: numpy arrays
// that point into the mapping and keep the model alive through their base object.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include "base/error.h"
#include "core/session.h"
#include "format/encoding.h"
#include "format/model.h"
#include "format/spec.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace pyrt::python {
namespace {

Verify parse_verify(const std::string& v) {
  if (v == "lazy") return Verify::kLazy;
  if (v == "full") return Verify::kFull;
  throw py::value_error("verify must be 'lazy' or 'full'");
}

size_t index_of(const Model& m, const std::string& name) {
  const int i = m.find(name);
  if (i < 0) throw py::key_error("no tensor named '" + name + "'");
  return size_t(i);
}

py::tuple dims_tuple(const std::vector<int64_t>& d) {
  py::tuple t(d.size());
  for (size_t i = 0; i < d.size(); ++i) t[i] = d[i];
  return t;
}

py::dict params_dict(const TensorInfo& t) {
  py::dict d;
  for (const ParamField& f : find_encoding(t.encoding)->params(t.p)) {
    switch (f.kind) {
      case ParamField::kInt: d[f.key] = f.a; break;
      case ParamField::kBool: d[f.key] = f.a != 0; break;
      case ParamField::kPair: d[f.key] = py::make_tuple(f.a, f.b); break;
    }
  }
  return d;
}

// The encoding registry as the C++ reader knows it (tests check pyruntime/format/encodings against it).
py::list encodings() {
  py::list l;
  for (const EncodingTraits* e : all_encodings()) {
    py::list readers;
    for (const char* const* r = e->in_place; *r; ++r) readers.append(*r);
    py::dict d;
    d["id"] = e->id;
    d["name"] = e->name;
    d["in_place"] = py::tuple(readers);
    d["reads_rows"] = e->decode_row != nullptr;
    l.append(d);
  }
  return l;
}

py::dict info(const Model& m) {
  const Meta& mt = m.meta();
  auto io = [](const std::vector<IoDesc>& v) {
    py::list l;
    for (const auto& d : v) l.append(py::make_tuple(d.name, spec::dtype_name(d.dtype), dims_tuple(d.dims)));
    return l;
  };
  py::dict props;
  for (const auto& p : mt.props) {
    switch (p.type) {
      case spec::kPropString: props[py::str(p.key)] = py::str(p.str); break;
      case spec::kPropInt: props[py::str(p.key)] = p.i; break;
      case spec::kPropFloat: props[py::str(p.key)] = p.f; break;
      default: props[py::str(p.key)] = py::bytes(p.str); break;
    }
  }
  py::dict meta;
  meta["producer"] = mt.producer;
  meta["producer_version"] = mt.producer_version;
  meta["model_name"] = mt.model_name;
  meta["inputs"] = io(mt.inputs);
  meta["outputs"] = io(mt.outputs);
  meta["props"] = props;
  py::list tensors;
  for (const auto& t : m.tensors()) {
    py::dict d;
    d["name"] = t.name;
    d["dtype"] = spec::dtype_name(t.dtype);
    py::tuple shape(t.shape.size());
    for (size_t i = 0; i < t.shape.size(); ++i) shape[i] = t.shape[i];
    d["shape"] = shape;
    d["encoding"] = t.encoding;
    d["params"] = params_dict(t);
    d["nbytes"] = t.nbytes();
    d["numel"] = t.numel;
    py::list layouts;
    for (const auto& l : t.layouts) layouts.append(py::make_tuple(l.id, l.param, l.extent.size));
    d["layouts"] = py::tuple(layouts);
    tensors.append(d);
  }
  py::dict r;
  r["major"] = m.major();
  r["minor"] = m.minor();
  r["required_features"] = m.required_features();
  r["optional_features"] = m.optional_features();
  r["meta"] = meta;
  r["tensors"] = tensors;
  return r;
}


// Sessions made once per table (their ops pack their weights when made) while the model records each form.
py::list packed_forms(const std::shared_ptr<Model>& m, const std::vector<std::string>& tables) {
  std::vector<Model::PackedForm> forms;
  {
    py::gil_scoped_release nogil;
    m->record_packed(true);
    try {
      for (const std::string& name : tables) {
        SessionOptions o;
        o.num_threads = 1;
        o.kernels = name;
        Session s(m, o);
      }
    } catch (...) {
      m->record_packed(false);
      throw;
    }
    forms = m->packed_forms();
    m->record_packed(false);
  }
  py::list r;
  std::vector<std::pair<uint32_t, uint32_t>> seen;  // forms several tables share are stored once
  for (const Model::PackedForm& f : forms) {
    if (std::find(seen.begin(), seen.end(), std::make_pair(f.tensor, f.param)) != seen.end()) continue;
    seen.emplace_back(f.tensor, f.param);
    r.append(py::make_tuple(f.tensor, f.param, f.key, py::bytes(static_cast<const char*>(f.data), f.size)));
  }
  return r;
}

py::array decode(const std::shared_ptr<Model>& m, const std::string& name) {
  const size_t i = index_of(*m, name);
  const TensorInfo& t = m->tensors()[i];
  m->decoded_bytes(i);  // refuses absurd sizes before numpy allocates
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  py::array out(np_dtype(t.dtype), shape);  // the logical dtype (f32 for the quantized encodings)
  const size_t nbytes = size_t(out.nbytes());
  void* dst = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    m->decode(i, dst, nbytes);
  }
  return out;
}

py::array view(const std::shared_ptr<Model>& m, const std::string& name, size_t k) {
  const size_t i = index_of(*m, name);
  const TensorInfo& t = m->tensors()[i];
  if (k >= t.buffers.size())
    throw py::index_error("tensor '" + name + "' has " + std::to_string(t.buffers.size()) + " buffers");
  const uint8_t* p = m->buffer(i, k);
  static const uint8_t empty = 0;
  // The capsule holds a reference to the model: the mapping outlives every array that views it.
  auto* keep = new std::shared_ptr<Model>(m);
  py::capsule owner(keep, [](void* v) { delete static_cast<std::shared_ptr<Model>*>(v); });
  py::array a(py::dtype("u1"), {py::ssize_t(t.buffers[k].size)}, {py::ssize_t(1)}, p ? p : &empty, owner);
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

py::object graph(const Model& m) {
  const Graph* g = m.graph();
  if (!g) return py::none();
  py::list values;
  for (const auto& v : g->values) {
    py::dict d;
    d["name"] = v.name;
    d["dtype"] = v.dtype ? py::object(py::str(spec::dtype_name(v.dtype))) : py::none();
    d["shape"] = v.rank_known ? py::object(dims_tuple(v.dims)) : py::none();
    values.append(d);
  }
  py::list consts;
  for (const auto& c : g->consts) consts.append(py::make_tuple(c.first, c.second));
  py::list nodes;
  for (const auto& n : g->nodes) {
    py::dict attrs;
    for (const auto& a : n.attrs) {
      py::object v;
      switch (a.type) {
        case spec::kAttrInt: v = py::int_(a.i); break;
        case spec::kAttrFloat: v = py::float_(a.f); break;
        case spec::kAttrInts: v = py::cast(a.ints); break;
        case spec::kAttrFloats: v = py::cast(a.floats); break;
        case spec::kAttrString: v = py::str(a.s); break;
        case spec::kAttrStrings: v = py::cast(a.strings); break;
        default: v = py::make_tuple("tensor", m.tensors()[a.tensor].name); break;  // kAttrTensor (index checked)
      }
      attrs[py::str(a.name)] = v;
    }
    py::dict d;
    d["name"] = n.name;
    d["op_type"] = n.op_type;
    d["version"] = n.version;
    d["inputs"] = py::cast(n.inputs);
    d["outputs"] = py::cast(n.outputs);
    d["attrs"] = attrs;
    nodes.append(d);
  }
  py::dict r;
  r["values"] = values;
  r["inputs"] = py::cast(g->inputs);
  r["outputs"] = py::cast(g->outputs);
  r["consts"] = consts;
  r["nodes"] = nodes;
  return r;
}

}  // namespace

void bind_model(py::module_& m) {
  m.def("encodings", &encodings, "The encodings this reader knows: id, name, in-place kernels, row reads.");
  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def(py::init([](const std::string& path, const std::string& verify, uint64_t max_file_bytes,
                       uint32_t max_tensors, uint32_t max_nodes) {
             const Verify v = parse_verify(verify);
             py::gil_scoped_release nogil;
             return Model::open_file(path, v, Limits{max_file_bytes, max_tensors, max_nodes});
           }),
           py::arg("path"), py::arg("verify") = "lazy", py::arg("max_file_bytes") = 0, py::arg("max_tensors") = 0,
           py::arg("max_nodes") = 0)
      .def_static("from_buffer", [](py::object b, const std::string& verify, uint64_t max_file_bytes,
                                    uint32_t max_tensors, uint32_t max_nodes) {
             const Verify v = parse_verify(verify);
             ContiguousBuffer buf(b);
             py::gil_scoped_release nogil;
             return Model::open_memory(buf.data(), buf.size(), v, /*copy=*/true,
                                       Limits{max_file_bytes, max_tensors, max_nodes});
           },
           py::arg("data"), py::arg("verify") = "lazy", py::arg("max_file_bytes") = 0, py::arg("max_tensors") = 0,
           py::arg("max_nodes") = 0, "Opens a model from bytes (copied).")
      .def("info", &info)
      .def("decode", &decode, py::arg("name"))
      .def("view", &view, py::arg("name"), py::arg("buffer") = 0)
      .def("verify", [](const Model& self) {
        py::gil_scoped_release nogil;
        self.verify_all();
      })
      .def("graph", &graph)
      .def("packed_forms", &packed_forms, py::arg("tables"),
           "The packed forms sessions with these kernel tables make when they are created, as a file would store "
           "them pre-packed (SPEC 6.6): (tensor index, layout param, key, bytes), one per tensor and param.")
      .def_property_readonly("packed_use", [](const Model& self) {
        const Model::PackedUse u = self.packed_use();
        py::dict d;
        d["from_file"] = u.from_file;
        d["packed"] = u.packed;
        return d;
      })
      .def_property_readonly("mapped", &Model::mapped)
      .def_property_readonly("file_size", &Model::file_size);
}

}  // namespace pyrt::python
