// pyruntime._core.Session: runs a model's graph. Inputs are used in place when they are C-contiguous arrays of
// the declared dtype (the Python layer makes them so); outputs are copied into new numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/session.h"
#include "format/spec.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace pyrt::python {
namespace {


py::list io_list(const Session& s, bool inputs) {
  py::list l;
  const size_t n = inputs ? s.num_inputs() : s.num_outputs();
  for (size_t i = 0; i < n; ++i) {
    const IoDesc& d = inputs ? s.input(i) : s.output(i);
    l.append(py::make_tuple(d.name, spec::dtype_name(d.dtype), py::cast(d.dims)));
  }
  return l;
}

// A string input: numpy str (U), bytes (S) or object (str / bytes elements) in any layout. The UTF-8 bytes are
// copied into `text`, which outlives the run; `refs` are the handles the session reads.
struct StringInput {
  std::vector<std::string> text;
  std::vector<StringRef> refs;
};

void to_strings(const py::array& a, const std::string& name, StringInput& out) {
  const char kind = a.dtype().kind();
  if (kind != 'U' && kind != 'S' && kind != 'O')
    throw py::value_error("input '" + name + "' has dtype " + std::string(py::str(a.dtype())) +
                          ", the model expects string (a numpy array of str, bytes or object)");
  const py::list items = a.attr("ravel")().attr("tolist")();  // str / bytes objects, whatever the layout
  out.text.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    PyObject* o = items[i].ptr();
    if (PyUnicode_Check(o)) {
      Py_ssize_t n = 0;
      const char* p = PyUnicode_AsUTF8AndSize(o, &n);
      if (!p) {  // lone surrogates
        PyErr_Clear();
        throw py::value_error("input '" + name + "': element " + std::to_string(i) + " cannot be encoded as UTF-8");
      }
      out.text.emplace_back(p, size_t(n));
    } else if (PyBytes_Check(o)) {
      std::string b(PyBytes_AS_STRING(o), size_t(PyBytes_GET_SIZE(o)));
      PyObject* u = PyUnicode_DecodeUTF8(b.data(), Py_ssize_t(b.size()), "strict");
      if (!u) {  // outputs come back as str: bytes that are not UTF-8 could not
        PyErr_Clear();
        throw py::value_error("input '" + name + "': element " + std::to_string(i) + " is not valid UTF-8");
      }
      Py_DECREF(u);
      out.text.push_back(std::move(b));
    } else {
      throw py::type_error("input '" + name + "': element " + std::to_string(i) + " is " +
                           std::string(py::str(py::type::handle_of(items[i]).attr("__name__"))) +
                           ", a string input takes str or bytes");
    }
  }
  for (const std::string& t : out.text) out.refs.push_back({t.data(), t.size()});
}

// A string output as a numpy object array of str.
py::array from_strings(const StringRef* refs, const Shape& shape) {
  const size_t n = size_t(numel(shape));
  py::list items(n);
  for (size_t i = 0; i < n; ++i) {
    PyObject* u = PyUnicode_DecodeUTF8(refs[i].size ? refs[i].data : "", Py_ssize_t(refs[i].size), "strict");
    if (!u) throw py::error_already_set();
    items[i] = py::reinterpret_steal<py::object>(u);
  }
  py::array o = py::module_::import("numpy").attr("array")(items, py::arg("dtype") = "O");
  return o.attr("reshape")(py::cast(shape));
}

}  // namespace

void bind_session(py::module_& m) {
  py::class_<Session, std::shared_ptr<Session>>(m, "Session")
      .def(py::init([](std::shared_ptr<Model> model, int threads, bool force_reference, bool profile,
                       uint64_t max_arena_bytes, std::string kernels, bool decode_weights) {
             SessionOptions o;
             o.num_threads = threads;
             o.force_reference = force_reference;
             o.profile = profile;
             o.max_arena_bytes = max_arena_bytes;
             o.kernels = std::move(kernels);
             o.decode_weights = decode_weights;
             py::gil_scoped_release nogil;
             return std::make_shared<Session>(std::move(model), o);
           }),
           py::arg("model"), py::arg("num_threads") = 0, py::arg("force_reference") = false,
           py::arg("profile") = false, py::arg("max_arena_bytes") = 0, py::arg("kernels") = "",
           py::arg("decode_weights") = false)
      .def_property_readonly("inputs", [](const Session& s) { return io_list(s, true); })
      .def_property_readonly("outputs", [](const Session& s) { return io_list(s, false); })
      .def_property_readonly("arena_bytes", &Session::arena_bytes)
      .def_property_readonly("threads", &Session::threads)
      .def_property_readonly("isa", &Session::isa)
      .def("reset_state", [](Session& s) { s.reset_state(); })
      .def_property_readonly("context_length", &Session::context_length)
      .def_property_readonly("state_bytes", &Session::state_bytes)
      .def_property_readonly("prepared_bytes", &Session::prepared_bytes)
      .def_property_readonly("max_context", &Session::max_context)
      .def("plan", [](Session& s, const std::vector<Shape>& shapes) {
        std::vector<TensorDesc> d;
        {
          py::gil_scoped_release nogil;
          d = s.plan(shapes);
        }
        py::list l;
        for (const auto& t : d) l.append(py::make_tuple(py::cast(t.shape), spec::dtype_name(t.dtype)));
        return l;
      })
      .def("run", [](Session& s, const py::list& arrays) {
        if (arrays.size() != s.num_inputs())
          throw py::value_error("expected " + std::to_string(s.num_inputs()) + " inputs, got " + std::to_string(arrays.size()));
        std::vector<const void*> ptrs;
        std::vector<Shape> shapes;
        std::vector<py::array> keep;
        std::vector<StringInput> strings(arrays.size());
        for (size_t i = 0; i < arrays.size(); ++i) {
          if (!py::isinstance<py::array>(arrays[i])) throw py::type_error("inputs must be numpy arrays");
          py::array a = py::reinterpret_borrow<py::array>(arrays[i]);
          const IoDesc& d = s.input(i);
          if (d.dtype == spec::kString) {
            to_strings(a, d.name, strings[i]);
            ptrs.push_back(strings[i].refs.data());
            shapes.emplace_back(a.shape(), a.shape() + a.ndim());
            continue;
          }
          if (a.dtype().kind() == 'U' || a.dtype().kind() == 'S' || a.dtype().kind() == 'O')
            throw py::value_error("input '" + d.name + "' has dtype " + std::string(py::str(a.dtype())) +
                                  ", the model expects " + spec::dtype_name(d.dtype));
          if (!a.dtype().is(np_dtype(d.dtype)) && a.dtype().kind() != np_dtype(d.dtype).kind())
            throw py::value_error("input '" + d.name + "' has dtype " + std::string(py::str(a.dtype())) +
                                  ", the model expects " + spec::dtype_name(d.dtype));
          if (!(a.flags() & py::array::c_style) || a.itemsize() != np_dtype(d.dtype).itemsize())
            throw py::value_error("input '" + d.name + "' must be a C-contiguous " + spec::dtype_name(d.dtype) + " array");
          ptrs.push_back(a.data());
          shapes.emplace_back(a.shape(), a.shape() + a.ndim());
          keep.push_back(a);
        }
        {
          py::gil_scoped_release nogil;
          s.run(ptrs, shapes);
        }
        py::list outs;
        for (size_t i = 0; i < s.num_outputs(); ++i) {
          const TensorDesc& d = s.output_desc(i);
          if (d.dtype == spec::kString) {
            outs.append(from_strings(static_cast<const StringRef*>(s.output_data(i)), d.shape));
            continue;
          }
          py::array o(np_dtype(d.dtype), std::vector<py::ssize_t>(d.shape.begin(), d.shape.end()));
          if (d.nbytes()) std::memcpy(o.mutable_data(), s.output_data(i), d.nbytes());
          outs.append(o);
        }
        return outs;
      })
      .def("describe", [](const Session& s) {
        py::list l;
        for (const auto& n : s.describe()) {
          py::dict d;
          d["name"] = n.name;
          d["op_type"] = n.op_type;
          d["kernel"] = n.kernel;
          d["output_shapes"] = py::cast(n.output_shapes);
          d["total_ms"] = n.total_ms;
          d["runs"] = n.runs;
          d["stored_bytes"] = n.stored_bytes;
          d["prepacked_bytes"] = n.prepacked_bytes;
          if (n.resident_bytes >= 0) d["resident_bytes"] = n.resident_bytes;
          else d["resident_bytes"] = py::none();
          l.append(d);
        }
        return l;
      });
  m.def("supported_ops", &supported_ops);
}

}  // namespace pyrt::python
