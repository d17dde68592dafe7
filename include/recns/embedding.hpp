// Embedding storage: each rank holds its owned rows (local users, then local items), row-major,
// in double (PETSc's scalar in Debian's build), as an Eigen matrix (ARCHITECTURE decision 2).
#pragma once

#include <Eigen/Dense>

namespace recns {
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// `rows` becomes count × width zeros, in transparent huge pages where the kernel gives them:
/// for the matrices whose rows the propagation gathers at random (fewer TLB misses).
void AllocateRows(RowMatrix* rows, Eigen::Index count, Eigen::Index width);

/// <a, b> over d entries, summed in index order: the score of a (user, item) pair in the losses
/// and the samplers, so a score never depends on which rank computes it.
inline double Dot(const double* a, const double* b, int d) {
  double s = 0;
  for (int c = 0; c < d; ++c) s += a[c] * b[c];
  return s;
}

/// out[k] = Dot(a, b[k]) for four rows b[0..3] at once. Each sum still runs in index order, so the
/// results equal Dot bit for bit; the four independent chains overlap in the pipeline (about
/// twice as fast as four Dot calls at d = 32). For samplers that score many items per user.
inline void Dot4(const double* a, const double* const b[4], int d, double out[4]) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int c = 0; c < d; ++c) {
    s0 += a[c] * b[0][c];
    s1 += a[c] * b[1][c];
    s2 += a[c] * b[2][c];
    s3 += a[c] * b[3][c];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/// out[k] = Dot(a, rows[k]) for k < n, four at a time (Dot4): the same bits as Dot, with the
/// four chains overlapping. For the samplers' per-pair candidate scores.
inline void DotRows(const double* a, const double* const* rows, int64_t n, int d, double* out) {
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) Dot4(a, rows + k, d, out + k);
  for (; k < n; ++k) out[k] = Dot(a, rows[k], d);
}
}  // namespace recns
