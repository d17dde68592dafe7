// PinSage: exact gradients through both aggregators, the normalisation and the features of
// sampled neighbours (owned by any rank).
#include <gtest/gtest.h>
#include <petscsys.h>

#include <string>

#include "../test_util.hpp"
#include "../train_checks.hpp"

namespace {

using recns::test::CheckGradient;

const std::string kSmall =
    " -model_type pinsage -model_dim 3 -model_pinsage_width 4 -model_pinsage_fanouts 2,3"
    " -model_init normal";

TEST(pinsage_gradient_test, FeaturesAndWeights) { CheckGradient(kSmall); }

// Every node has a neighbour here: an isolated one's neighbour branch is its bias alone, 0 at
// the start, where the ReLU has its kink.
TEST(pinsage_gradient_test, BiasesAndWeightDecay) {
  CheckGradient(kSmall + " -model_pinsage_bias -model_pinsage_weight_decay 0.3",
                recns::test::TinyDataset(16, 6, 3));
}

TEST(pinsage_gradient_test, WholeNeighbourhoods) {
  CheckGradient(" -model_type pinsage -model_dim 3 -model_pinsage_width 4"
                " -model_pinsage_fanouts 50,50 -model_init normal");
}

TEST(pinsage_gradient_test, TableNeighbourhoods) {
  CheckGradient(kSmall + " -model_pinsage_neighbours table -model_pinsage_table_width 5");
}

TEST(pinsage_gradient_test, HingeLoss) { CheckGradient(kSmall + " -loss_type hinge"); }

}  // namespace
