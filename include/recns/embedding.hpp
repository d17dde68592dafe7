// Embedding storage: each rank holds its owned rows (local users, then local items), row-major,
// in double (PETSc's scalar in Debian's build), as an Eigen matrix (ARCHITECTURE decision 2).
#pragma once

#include <Eigen/Dense>

namespace recns {
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}  // namespace recns
