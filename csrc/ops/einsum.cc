// Einsum (ONNX, numpy semantics) on one or two f32 operands: explicit ("bij,bjk->bik") or implicit ("ij,jk",
// output = the labels seen once, in ASCII order) equations, letters a-z A-Z, "..." broadcast like numpy
// (right-aligned, size-1 dims stretch; a letter's size-1 dims stretch too, as numpy allows).
//
// Two operands: each label is a batch label (both operands and the output), an M label (A and the output), an
// N label (B and the output), a contracted K label (both, not the output), or summed away in the one operand
// that has it. That is a batched GEMM C[batch][M][N] = A[batch][M][K] . B[batch][K][N]: an operand whose M/K
// (or K/N) labels already form a row-major or transposed matrix per batch index is read in place by the GEMM
// driver; otherwise (its own labels to sum, labels out of order) it is first gathered into that layout in the
// workspace. C goes straight into the output when the output's labels read batch, M, N (or batch, N, M, then
// with the operands swapped: C^T = B^T A^T), else into the workspace and is permuted out.
// One operand: a strided walk (transpose, and sums over the labels the output drops), sums in double.
// Refused, with the equation in the message: three or more operands, a label repeated within one term
// (diagonals), output labels missing from the inputs or repeated, and "..." in the inputs but not in an
// explicit output (numpy refuses it too).
#include <algorithm>
#include <cstring>

#include "compute/gemm.h"
#include "ops/common.h"

namespace pyrt::ops {
namespace {

constexpr int kLetters = 52;  // labels 0..51 are letters (A-Z then a-z: ASCII order); 52 + i is ellipsis dim i

struct Term {
  std::vector<int> labels;  // letters only, in order
  int ell = -1;             // position of "..." among them, -1 if none
};

// dst[i] = sum over the `sum` dims of src at (index i of dims `dims`): strides are src element strides per
// dim. The innermost destination dim runs as the tight loop.
struct StridedWalk {
  std::vector<int64_t> sizes, strides, sum_sizes, sum_strides;

  void run(const RunContext& ctx, const float* src, float* dst) const {
    const int64_t total = numel(sizes);
    if (total == 0) return;
    const size_t r = sizes.size();
    const int64_t inner = r ? sizes[r - 1] : 1, is = r ? strides[r - 1] : 0;
    const int64_t rows = total / inner;
    const int64_t nsum = numel(sum_sizes);
    parallel(ctx, size_t(rows), 16, [&](size_t b, size_t e, int) {
      std::vector<int64_t> sidx(sum_sizes.size());
      for (size_t row = b; row < e; ++row) {
        int64_t rem = int64_t(row), off = 0;
        for (size_t d = r ? r - 1 : 0; d-- > 0;) {
          off += (rem % sizes[d]) * strides[d];
          rem /= sizes[d];
        }
        float* y = dst + int64_t(row) * inner;
        if (sum_sizes.empty()) {
          for (int64_t i = 0; i < inner; ++i) y[i] = src[off + i * is];
          continue;
        }
        for (int64_t i = 0; i < inner; ++i) {
          const float* s = src + off + i * is;
          double acc = 0;
          std::fill(sidx.begin(), sidx.end(), 0);
          int64_t so = 0;
          for (int64_t k = 0; k < nsum; ++k) {
            acc += s[so];
            for (size_t d = sum_sizes.size(); d-- > 0;) {  // odometer over the summed dims
              so += sum_strides[d];
              if (++sidx[d] < sum_sizes[d]) break;
              so -= sum_strides[d] * sum_sizes[d];
              sidx[d] = 0;
            }
          }
          y[i] = float(acc);
        }
      }
    });
  }
};

// One GEMM operand per batch index: the matrix [rows][cols] at base + sum(batch index * bstride), element
// (r, c) at r * ld + c (trans false) or r + c * ld (trans true); or gathered into the workspace first.
struct Operand {
  bool gather = false;
  StridedWalk walk;             // when gathered: into [its batch dims][rows][cols]
  std::vector<int64_t> bstride;  // per batch label, elements (0 where the operand has size 1)
  int64_t ld = 1;
  bool trans = false;
  int64_t floats = 0;  // workspace floats when gathered
};

class Einsum final : public Op {
 public:
  explicit Einsum(const NodeContext& ctx) : k_(ctx.kernels()) {
    eq_ = ctx.attr_string("equation", "");
    std::string e;
    for (char c : eq_)
      if (c != ' ') e += c;
    if (e.empty()) ctx.fail("the attribute equation is required");
    const size_t arrow = e.find("->");
    explicit_ = arrow != std::string::npos;
    const std::string lhs = e.substr(0, arrow);
    size_t start = 0;
    for (;;) {
      const size_t comma = lhs.find(',', start);
      terms_.push_back(parse(ctx, lhs.substr(start, comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (explicit_) out_term_ = parse(ctx, e.substr(arrow + 2));
    if (terms_.size() > 2)
      ctx.fail("equation '" + eq_ + "' has " + std::to_string(terms_.size()) + " operands; 1 or 2 are supported");
    ctx.expect_inputs(terms_.size(), terms_.size());
  }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    for (size_t i = 0; i < in.size(); ++i) require_f32(*this, in[i], i ? "input 1" : "input 0");
    // resolve "..." against the ranks: every operand's term as a full label list
    int ne = 0;
    std::vector<int> nell(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const int r = int(in[i].shape.size()), l = int(terms_[i].labels.size());
      if (terms_[i].ell < 0 ? r != l : r < l)
        fail("equation '" + eq_ + "': operand " + std::to_string(i) + " has rank " + std::to_string(r) + ", its term " +
             (terms_[i].ell < 0 ? "names " : "names at least ") + std::to_string(l) + " dimensions");
      nell[i] = terms_[i].ell < 0 ? 0 : r - l;
      ne = std::max(ne, nell[i]);
    }
    std::vector<std::vector<int>> lab(in.size());
    for (size_t i = 0; i < in.size(); ++i) lab[i] = expand(terms_[i], nell[i], ne);
    std::vector<int64_t> size(kLetters + size_t(ne), -1);
    std::vector<int> count(size.size(), 0);
    for (size_t i = 0; i < in.size(); ++i)
      for (size_t d = 0; d < lab[i].size(); ++d) {
        const int l = lab[i][d];
        const int64_t s = in[i].shape[d];
        ++count[size_t(l)];
        if (size[size_t(l)] == -1 || size[size_t(l)] == 1) size[size_t(l)] = s;
        else if (s != 1 && s != size[size_t(l)])
          fail("equation '" + eq_ + "': label '" + label_name(l) + "' has sizes " + std::to_string(size[size_t(l)]) +
               " and " + std::to_string(s) + " (" + shape_str(in[0].shape) +
               (in.size() > 1 ? " and " + shape_str(in[1].shape) : std::string()) + ")");
      }
    std::vector<int> olab;
    if (explicit_) {
      if (out_term_.ell < 0 && ne > 0)
        fail("equation '" + eq_ + "': the inputs have '...' dimensions but the output has no '...'");
      olab = expand(out_term_, out_term_.ell < 0 ? 0 : ne, ne);
      for (int l : olab)
        if (size[size_t(l)] == -1) fail("equation '" + eq_ + "': output label '" + label_name(l) + "' is in no input");
    } else {
      for (int i = 0; i < ne; ++i) olab.push_back(kLetters + i);
      for (int l = 0; l < kLetters; ++l)
        if (count[size_t(l)] == 1) olab.push_back(l);
    }
    Shape o;
    for (int l : olab) o.push_back(size[size_t(l)]);
    out[0] = {o, spec::kF32};
    size_ = size;
    in_shapes_.clear();
    for (const TensorDesc& d : in) in_shapes_.push_back(d.shape);
    if (in.size() == 1) plan_one(lab[0], olab);
    else plan_two(lab[0], lab[1], olab);
  }

  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    if (!two_) return 0;
    return align64(size_t(a_.floats) * 4) + align64(size_t(b_.floats) * 4) + align64(size_t(c_floats_) * 4) +
           gemm::workspace_size(size_t(m_), size_t(n_), size_t(kk_), threads);
  }

  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    float* y = static_cast<float*>(out[0]);
    if (!two_) return one_.run(ctx, static_cast<const float*>(in[0]), y);
    const float* a = static_cast<const float*>(in[swap_ ? 1 : 0]);
    const float* b = static_cast<const float*>(in[swap_ ? 0 : 1]);
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    float* ga = reinterpret_cast<float*>(ws);
    float* gb = reinterpret_cast<float*>(ws + align64(size_t(a_.floats) * 4));
    float* gc = reinterpret_cast<float*>(ws + align64(size_t(a_.floats) * 4) + align64(size_t(b_.floats) * 4));
    void* gws = ws + align64(size_t(a_.floats) * 4) + align64(size_t(b_.floats) * 4) + align64(size_t(c_floats_) * 4);
    if (a_.gather) a_.walk.run(ctx, a, ga), a = ga;
    if (b_.gather) b_.walk.run(ctx, b, gb), b = gb;
    float* c = c_floats_ ? gc : y;
    const int64_t mn = m_ * n_;
    if (kk_ == 0) {
      std::fill_n(c, size_t(nb_ * mn), 0.f);
    } else {
      std::vector<int64_t> idx(bsize_.size(), 0);
      int64_t oa = 0, ob = 0;
      for (int64_t t = 0; t < nb_; ++t) {
        gemm::gemm(k_, a + oa, size_t(a_.ld), a_.trans, b + ob, size_t(b_.ld), b_.trans, size_t(m_), size_t(n_),
                   size_t(kk_), c + t * mn, size_t(n_), gemm::Epilogue{}, ctx.pool, gws);
        for (size_t d = bsize_.size(); d-- > 0;) {  // next batch index: offsets by increment
          oa += a_.bstride[d], ob += b_.bstride[d];
          if (++idx[d] < bsize_[d]) break;
          oa -= a_.bstride[d] * bsize_[d], ob -= b_.bstride[d] * bsize_[d];
          idx[d] = 0;
        }
      }
    }
    if (c_floats_) out_walk_.run(ctx, gc, y);
  }

  std::string kernel() const override {
    if (!two_) return "einsum-strided-ref";
    return std::string("einsum-gemm-") + k_.name;
  }

 private:
  Term parse(const NodeContext& ctx, const std::string& s) const {
    Term t;
    std::vector<bool> seen(kLetters, false);
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '.') {
        if (t.ell >= 0 || s.compare(i, 3, "...") != 0) ctx.fail("equation '" + eq_ + "': a malformed or second '...'");
        t.ell = int(t.labels.size());
        i += 2;
        continue;
      }
      int l;
      if (c >= 'A' && c <= 'Z') l = c - 'A';
      else if (c >= 'a' && c <= 'z') l = 26 + (c - 'a');
      else ctx.fail("equation '" + eq_ + "': unexpected character '" + std::string(1, c) + "'");
      if (seen[size_t(l)])
        ctx.fail("equation '" + eq_ + "': label '" + std::string(1, c) +
                 "' repeats within one term (diagonals are not supported)");
      seen[size_t(l)] = true;
      t.labels.push_back(l);
    }
    return t;
  }
  static std::vector<int> expand(const Term& t, int nell, int ne) {
    std::vector<int> r;
    for (size_t i = 0; i <= t.labels.size(); ++i) {
      if (int(i) == t.ell)
        for (int j = 0; j < nell; ++j) r.push_back(kLetters + ne - nell + j);  // right-aligned, as numpy
      if (i < t.labels.size()) r.push_back(t.labels[i]);
    }
    return r;
  }
  static std::string label_name(int l) {
    if (l >= kLetters) return "...#" + std::to_string(l - kLetters);
    return std::string(1, char(l < 26 ? 'A' + l : 'a' + (l - 26)));
  }
  // element strides of operand i per label (0 for size-1 dims of a stretched label, and absent labels)
  std::vector<int64_t> label_strides(size_t i, const std::vector<int>& lab) const {
    std::vector<int64_t> st(size_.size(), 0);
    int64_t s = 1;
    for (size_t d = lab.size(); d-- > 0;) {
      const int64_t dim = in_shapes_[i][d];
      st[size_t(lab[d])] = dim == 1 ? 0 : s;
      s *= dim;
    }
    return st;
  }

  void plan_one(const std::vector<int>& lab, const std::vector<int>& olab) {
    two_ = false;
    const std::vector<int64_t> st = label_strides(0, lab);
    one_ = StridedWalk{};
    for (int l : olab) one_.sizes.push_back(size_[size_t(l)]), one_.strides.push_back(st[size_t(l)]);
    for (int l : lab)
      if (std::find(olab.begin(), olab.end(), l) == olab.end())
        one_.sum_sizes.push_back(size_[size_t(l)]), one_.sum_strides.push_back(st[size_t(l)]);
  }

  void plan_two(const std::vector<int>& la, const std::vector<int>& lb, const std::vector<int>& olab) {
    two_ = true;
    auto has = [](const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); };
    std::vector<int> batch, ml, nl, kl, sa, sb;  // batch, M, N in output order; K in A's order
    for (int l : olab) (has(la, l) && has(lb, l) ? batch : has(la, l) ? ml : nl).push_back(l);
    for (int l : la)
      if (!has(olab, l)) (has(lb, l) ? kl : sa).push_back(l);
    for (int l : lb)
      if (!has(olab, l) && !has(la, l)) sb.push_back(l);
    // C straight into the output when it reads [batch][M][N], or [batch][N][M] with the operands swapped
    auto concat = [](std::vector<int> x, const std::vector<int>& y, const std::vector<int>& z) {
      x.insert(x.end(), y.begin(), y.end());
      x.insert(x.end(), z.begin(), z.end());
      return x;
    };
    swap_ = false;
    bool direct = concat(batch, ml, nl) == olab;
    if (!direct && concat(batch, nl, ml) == olab) direct = true, swap_ = true;
    const std::vector<int>& lA = swap_ ? lb : la;
    const std::vector<int>& lB = swap_ ? la : lb;
    if (swap_) std::swap(ml, nl), std::swap(sa, sb);
    auto prod = [&](const std::vector<int>& v) {
      int64_t p = 1;
      for (int l : v) p *= size_[size_t(l)];
      return p;
    };
    m_ = prod(ml), n_ = prod(nl), kk_ = prod(kl), nb_ = prod(batch);
    bsize_.clear();
    for (int l : batch) bsize_.push_back(size_[size_t(l)]);
    a_ = operand(swap_ ? 1 : 0, lA, batch, ml, kl, sa);
    b_ = operand(swap_ ? 0 : 1, lB, batch, kl, nl, sb);
    c_floats_ = 0;
    if (!direct) {
      c_floats_ = nb_ * m_ * n_;
      // C is [batch][M][N] contiguous: the output walks it with those strides
      std::vector<int> cl = concat(batch, ml, nl);
      std::vector<int64_t> cst(size_.size(), 0);
      int64_t s = 1;
      for (size_t d = cl.size(); d-- > 0;) cst[size_t(cl[d])] = s, s *= size_[size_t(cl[d])];
      out_walk_ = StridedWalk{};
      for (int l : olab) out_walk_.sizes.push_back(size_[size_t(l)]), out_walk_.strides.push_back(cst[size_t(l)]);
    }
  }

  // Operand `i` (labels lab) as the GEMM's [batch][rows][cols] side; `sum`: its labels summed away.
  Operand operand(size_t i, const std::vector<int>& lab, const std::vector<int>& batch, const std::vector<int>& rows,
                  const std::vector<int>& cols, const std::vector<int>& sum) const {
    Operand op;
    const std::vector<int64_t> st = label_strides(i, lab);
    int64_t nr = 1, nc = 1;
    for (int l : rows) nr *= size_[size_t(l)];
    for (int l : cols) nc *= size_[size_t(l)];
    // a group of labels as one dimension: its stride if the labels are nested in memory (size-1 ones skipped)
    auto merged = [&](const std::vector<int>& g, int64_t& stride) {
      stride = 0;
      int64_t expect = -1;
      for (size_t d = g.size(); d-- > 0;) {
        const int64_t sz = size_[size_t(g[d])], s = st[size_t(g[d])];
        if (sz == 1) continue;
        if (s == 0) return false;  // stretched: not a plain matrix
        if (expect == -1) stride = s;
        else if (s != expect) return false;
        expect = s * sz;
      }
      return true;
    };
    int64_t sr = 0, sc = 0;
    const bool in_place = sum.empty() && merged(rows, sr) && merged(cols, sc);
    if (in_place && (nc == 1 || sc == 1) && (nr == 1 || sr >= nc)) {
      op.trans = false, op.ld = nr == 1 ? std::max<int64_t>(nc, 1) : sr;
    } else if (in_place && (nr == 1 || sr == 1) && (nc == 1 || sc >= nr)) {
      op.trans = true, op.ld = nc == 1 ? std::max<int64_t>(nr, 1) : sc;
    } else {
      op.gather = true;
    }
    if (!op.gather) {
      for (int l : batch) op.bstride.push_back(st[size_t(l)]);
      return op;
    }
    // gathered into [its own batch dims (1 where stretched)][rows][cols], summing `sum`
    std::vector<int64_t> bsz;
    for (int l : batch) bsz.push_back(st[size_t(l)] == 0 ? 1 : size_[size_t(l)]);
    for (size_t d = 0; d < batch.size(); ++d)
      op.walk.sizes.push_back(bsz[d]), op.walk.strides.push_back(st[size_t(batch[d])]);
    for (int l : rows) op.walk.sizes.push_back(size_[size_t(l)]), op.walk.strides.push_back(st[size_t(l)]);
    for (int l : cols) op.walk.sizes.push_back(size_[size_t(l)]), op.walk.strides.push_back(st[size_t(l)]);
    for (int l : sum) op.walk.sum_sizes.push_back(size_[size_t(l)]), op.walk.sum_strides.push_back(st[size_t(l)]);
    op.floats = numel(op.walk.sizes);
    op.trans = false, op.ld = std::max<int64_t>(nc, 1);
    int64_t s = nr * nc;
    op.bstride.assign(batch.size(), 0);
    for (size_t d = batch.size(); d-- > 0;) {
      op.bstride[d] = bsz[d] == 1 ? 0 : s;
      s *= bsz[d];
    }
    return op;
  }

  const kernels::Table& k_;
  std::string eq_;
  std::vector<Term> terms_;
  Term out_term_;
  bool explicit_ = false;
  // plan
  std::vector<int64_t> size_;
  std::vector<Shape> in_shapes_;
  bool two_ = false, swap_ = false;
  StridedWalk one_, out_walk_;
  Operand a_, b_;
  int64_t m_ = 1, n_ = 1, kk_ = 1, nb_ = 1, c_floats_ = 0;
  std::vector<int64_t> bsize_;
};

}  // namespace

std::unique_ptr<Op> make_einsum(const NodeContext& ctx) { return std::make_unique<Einsum>(ctx); }

}  // namespace pyrt::ops
