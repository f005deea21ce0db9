// What the runtime makes up (core/generate.h), bound for Python so that Python and C make the same:
// pyruntime._core.Sampler, the token sampler pyrt_generate uses (Python's Generator draws with it), and
// random_input, the inputs pyrt_benchmark feeds (`pyruntime run` and `bench` feed them too).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/generate.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace pyrt::python {

void bind_generate(py::module_& m) {
  py::class_<Sampler>(m, "Sampler", "Picks one token per row of logits; its generator advances with each pick.")
      .def(py::init([](double temperature, int64_t top_k, double top_p, uint64_t seed) {
             SamplingParams p;
             p.temperature = temperature, p.top_k = top_k, p.top_p = top_p;
             return Sampler(p, seed);
           }),
           py::arg("temperature") = 0.0, py::arg("top_k") = 0, py::arg("top_p") = 1.0, py::arg("seed") = 0,
           "temperature 0: greedy; top_k 0 and top_p 1: off (core/generate.h).")
      .def("sample", [](Sampler& s, py::array_t<float, py::array::c_style | py::array::forcecast> logits) {
        // [B, V] (or [V]): rows in order, one draw each, as pyrt_generate draws a sequence's tokens
        if (logits.ndim() != 1 && logits.ndim() != 2) throw py::value_error("logits must be [vocab] or [batch, vocab]");
        const size_t rows = logits.ndim() == 2 ? size_t(logits.shape(0)) : 1;
        const size_t n = size_t(logits.shape(logits.ndim() - 1));
        py::array_t<int64_t> out{py::ssize_t(rows)};
        int64_t* o = out.mutable_data();
        const float* l = logits.data();
        for (size_t r = 0; r < rows; ++r) o[r] = s.sample(l + r * n, n);
        return out;
      }, py::arg("logits"));
  m.def("random_input", [](std::shared_ptr<Model> model, size_t index, const Shape& shape, uint64_t seed) {
    const size_t bytes = random_input_bytes(model->meta(), index, shape);  // checks the index and shape first
    if (model->meta().inputs[index].dtype == spec::kString)  // empty strings, as the C API gives
      return py::array(py::module_::import("numpy").attr("full")(py::cast(shape), "", py::arg("dtype") = "O"));
    py::array out(np_dtype(model->meta().inputs[index].dtype), std::vector<py::ssize_t>(shape.begin(), shape.end()));
    if (bytes) random_input(model->meta(), index, shape, seed, out.mutable_data());
    return out;
  }, py::arg("model"), py::arg("index"), py::arg("shape"), py::arg("seed") = 0,
     "Values for input `index` in `shape`, as pyrt_benchmark feeds them (pyrt_model_random_input).");
}

}  // namespace pyrt::python
