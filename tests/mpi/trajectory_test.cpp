// Every model and sampler that existed before the parameter list and the step's objective were
// redesigned follows the same trajectory as then, to the last bit: three epochs on a tiny set,
// at 1 and 2 ranks (sub-communicators), compared with figures saved from the earlier code.
// RECNS_PRINT_TRAJECTORIES=1 prints the figures of the current code in the table's form.
// PNS's figures are those after its alias draw took the coin from a second word (a defect fix).
#include <gtest/gtest.h>
#include <petscsys.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::Dataset;

struct Trajectory {
  const char* options;
  int ranks;
  std::vector<double> figures;  // final loss, sampling INF, then every final test metric
};

// Saved figures: the final loss, the last epoch's sampling INF and the final test metrics.
const std::vector<Trajectory>& SavedTrajectories();

std::vector<double> Figures(const recns::Trainer::Outcome& outcome) {
  std::vector<double> figures = {outcome.final_loss, outcome.sampling_inf};
  for (const auto& metric : outcome.final_test.metrics) figures.push_back(metric.second);
  return figures;
}

TEST(trajectory_test, SameBitsAsBeforeTheRedesign) {
  int world_rank, world_size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const bool print = std::getenv("RECNS_PRINT_TRAJECTORIES") != nullptr;
  const Dataset data = recns::test::TinyDataset(40, 30, 11);
  const std::string common =
      " -train_epochs 3 -train_batch_size 16 -eval_sampling_quality -metrics_file \"\""
      " -checkpoint_dir \"\" -eval_ks 5,20";
  int compared = 0;
  for (const Trajectory& saved : SavedTrajectories()) {
    if (saved.ranks > world_size) continue;
    recns::Trainer::Outcome outcome;
    recns::test::TrainOn(saved.ranks, data, saved.options + common, &outcome);
    if (world_rank != 0) continue;
    const std::vector<double> figures = Figures(outcome);
    if (print) {
      std::printf("      {\"%s\", %d, {", saved.options, saved.ranks);
      for (size_t f = 0; f < figures.size(); ++f) std::printf("%s%a", f ? ", " : "", figures[f]);
      std::printf("}},\n");
    }
    SCOPED_TRACE(std::string(saved.options) + " at " + std::to_string(saved.ranks) + " ranks");
    // No ASSERT here: rank 0 must reach the next configuration's collective calls.
    EXPECT_EQ(figures.size(), saved.figures.size());
    if (figures.size() != saved.figures.size()) continue;
    for (size_t f = 0; f < figures.size(); ++f) EXPECT_EQ(figures[f], saved.figures[f]) << "figure " << f;
    ++compared;
  }
  if (world_rank == 0) EXPECT_GT(compared, 0);
}

const std::vector<Trajectory>& SavedTrajectories() {
  static const std::vector<Trajectory> saved = {
      {"-model_type mf -model_dim 8 -optimizer_type sgd -optimizer_lr 0.05", 1, {0x1.6292af3cce4c2p-1, 0x1.d4f80a9a1f9ep-2, 0x1.999999999999ap-4, 0x1.8p-1, 0x1.d2dee5e6bdb9dp-5, 0x1.d2c6295fded1ep-3, 0x1.47ae147ae147bp-6, 0x1.3333333333336p-5, 0x1.999999999999ap-4, 0x1.8p-1}},
      {"-model_type mf -model_dim 8 -optimizer_type sgd -optimizer_lr 0.05", 2, {0x1.6292af3cce4c1p-1, 0x1.d4f80a9a1f9dcp-2, 0x1.999999999999ap-4, 0x1.8p-1, 0x1.d2dee5e6bdb9dp-5, 0x1.d2c6295fded1dp-3, 0x1.47ae147ae147bp-6, 0x1.3333333333334p-5, 0x1.999999999999ap-4, 0x1.8p-1}},
      {"-model_type mf -model_dim 8 -optimizer_lr 0.02 -optimizer_weight_decay 0.001", 1, {0x1.4c5a8dcf68082p-1, 0x1.bfc8432eadd1bp-2, 0x1.999999999999ap-4, 0x1.7333333333333p-1, 0x1.98050007db514p-5, 0x1.c2bedfedbb84p-3, 0x1.47ae147ae147bp-6, 0x1.28f5c28f5c292p-5, 0x1.999999999999ap-4, 0x1.7333333333333p-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_num_negatives 2", 1, {0x1.27c197cc64b5cp-1, 0x1.a35d42150b024p-2, 0x1.999999999999ap-4, 0x1.8p-1, 0x1.1ad07d67baee6p-4, 0x1.fc978f95ab5aep-3, 0x1.47ae147ae147bp-6, 0x1.3333333333336p-5, 0x1.999999999999ap-4, 0x1.8p-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_num_negatives 2", 2, {0x1.27c197cc64b5cp-1, 0x1.a35d42150b029p-2, 0x1.999999999999ap-4, 0x1.8p-1, 0x1.1ad07d67baee6p-4, 0x1.fc978f95ab5bp-3, 0x1.47ae147ae147bp-6, 0x1.3333333333334p-5, 0x1.999999999999ap-4, 0x1.8p-1}},
      {"-model_type lightgcn -model_layers 3 -model_dim 8 -optimizer_lr 0.02 -train_needed_rows_only false", 1, {0x1.2fced89e7243cp-1, 0x1.a0c583627fe4fp-2, 0x1.6666666666666p-3, 0x1.8cccccccccccdp-1, 0x1.b39fca387563dp-4, 0x1.152d01b36a34ep-2, 0x1.1eb851eb851ebp-5, 0x1.3d70a3d70a3dap-5, 0x1.6666666666666p-3, 0x1.8cccccccccccdp-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type pns", 1, {0x1.319b1d09b4acp-1, 0x1.b1bc1d6fc8909p-2, 0x1.999999999999ap-3, 0x1.8cccccccccccdp-1, 0x1.d243470952323p-4, 0x1.126d6cdf9bf1dp-2, 0x1.47ae147ae147ap-5, 0x1.3d70a3d70a3dap-5, 0x1.999999999999ap-3, 0x1.8cccccccccccdp-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type dns -sampler_dns_candidates 4", 1, {0x1.536bdd3905764p-1, 0x1.b223de6dd242p-2, 0x1.999999999999ap-3, 0x1.999999999999ap-1, 0x1.fab8e30078d42p-4, 0x1.294a6e57b3694p-2, 0x1.47ae147ae147ap-5, 0x1.47ae147ae147ep-5, 0x1.999999999999ap-3, 0x1.999999999999ap-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type dns -sampler_dns_candidates 4", 2, {0x1.536bdd3905765p-1, 0x1.b223de6dd242p-2, 0x1.999999999999ap-3, 0x1.999999999999ap-1, 0x1.fab8e30078d42p-4, 0x1.294a6e57b3694p-2, 0x1.47ae147ae147bp-5, 0x1.47ae147ae147cp-5, 0x1.999999999999ap-3, 0x1.999999999999ap-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type dns -loss_type soft_bpr -loss_soft_bpr_tau 0.2", 1, {0x1.606541224fea4p-1, 0x1.a7d986def409fp-2, 0x1.6666666666666p-3, 0x1.a666666666666p-1, 0x1.dc07343f8165dp-4, 0x1.2e4be4529925dp-2, 0x1.1eb851eb851ebp-5, 0x1.51eb851eb8522p-5, 0x1.6666666666666p-3, 0x1.a666666666666p-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type aobpr -sampler_aobpr_mode exact", 1, {0x1.5e4d2c39167c7p-1, 0x1.c3797fb3d674bp-2, 0x1.3333333333333p-3, 0x1.8cccccccccccdp-1, 0x1.f469ea0af9aaap-4, 0x1.28120f93564e6p-2, 0x1.eb851eb851eb8p-6, 0x1.3d70a3d70a3dap-5, 0x1.3333333333333p-3, 0x1.8cccccccccccdp-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type aobpr -sampler_aobpr_mode factor", 1, {0x1.4b2516374323dp-1, 0x1.cd0e2910583c4p-2, 0x1.6666666666666p-3, 0x1.a666666666666p-1, 0x1.f1cd74834364ap-4, 0x1.3450dcaf1a1d1p-2, 0x1.1eb851eb851ebp-5, 0x1.51eb851eb8522p-5, 0x1.6666666666666p-3, 0x1.a666666666666p-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type srns -sampler_srns_pool_size 80 -sampler_srns_warmup 1", 1, {0x1.537aeeb93a2b6p-1, 0x1.e983efb518b3ep-2, 0x1.999999999999ap-3, 0x1.8cccccccccccdp-1, 0x1.1041ebbfe7481p-3, 0x1.23608711e2083p-2, 0x1.47ae147ae147ap-5, 0x1.3d70a3d70a3dap-5, 0x1.999999999999ap-3, 0x1.8cccccccccccdp-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type bns -sampler_bns_cdf exact", 1, {0x1.3aac6a8c94641p-1, 0x1.acd54edbcd7dfp-2, 0x1.999999999999ap-4, 0x1.599999999999ap-1, 0x1.2c19ed74d4e58p-4, 0x1.d560fb04cf08p-3, 0x1.47ae147ae147bp-6, 0x1.147ae147ae14ap-5, 0x1.999999999999ap-4, 0x1.599999999999ap-1}},
      {"-model_type lightgcn -model_layers 2 -model_dim 8 -optimizer_lr 0.02 -sampler_type bns -sampler_bns_cdf subsample -sampler_bns_cdf_samples 20", 1, {0x1.334df8d3d1cbcp-1, 0x1.aadf00e1726cep-2, 0x1.999999999999ap-4, 0x1.6666666666666p-1, 0x1.daa1489936b9dp-5, 0x1.c9ae036bb8bcep-3, 0x1.47ae147ae147bp-6, 0x1.1eb851eb851eep-5, 0x1.999999999999ap-4, 0x1.6666666666666p-1}},
      {"-model_type mf -model_dim 8 -optimizer_lr 0.02 -sampler_type uniform -sampler_num_negatives 3 -loss_type kpair", 1, {0x1.498f1f295719ep+0, 0x1.c1bf56a438e32p-2, 0x1p-3, 0x1.4cccccccccccdp-1, 0x1.5b6bef4ecb98bp-4, 0x1.d04d693e427ep-3, 0x1.999999999999ap-6, 0x1.0a3d70a3d70a6p-5, 0x1p-3, 0x1.4cccccccccccdp-1}},
  };
  return saved;
}

}  // namespace
