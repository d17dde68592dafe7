// Checkpoint and restart: a run stopped (at an epoch boundary, or mid-epoch by a stop signal on
// one rank) and resumed ends exactly where an uninterrupted run ends: bitwise on the same ranks,
// within 1e-9 relative on another number of ranks. Runs are compared through their final
// checkpoints (parameters, optimizer moments, metrics rows) and their outcomes.
#include <hdf5.h>

#include <sys/stat.h>

#include <cmath>
#include <csignal>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "recns/checkpoint.hpp"
#include "recns/graph.hpp"
#include "recns/stop_signal.hpp"
#include "recns/trainer.hpp"
#include "../restart_checks.hpp"
#include "../test_util.hpp"

namespace {

using recns::Dataset;
using recns::test::ExpectSameEnd;
using recns::test::ReadDataset;
using recns::test::TinyDatasetWithValid;
using recns::test::TrainOn;
using recns::test::WithOptions;
using Outcome = recns::Trainer::Outcome;

const char* const kConfigurations[] = {
    // Adam, a valid split with the best epoch's parameters kept, sampling quality sums.
    "-model_type lightgcn -model_layers 2 -model_dim 8 -train_batch_size 16 -optimizer_lr 0.02 "
    "-eval_sampling_quality",
    // SRNS's memory, snapshots and history; SGD with a decaying learning rate.
    "-model_type mf -model_dim 8 -train_batch_size 16 -optimizer_type sgd -optimizer_lr 0.05 "
    "-optimizer_lr_decay_every 2 -sampler_type srns -sampler_srns_pool_size 80 "
    "-sampler_srns_warmup 1 -sampler_srns_history 2",
    // AOBPR's factor rankings, refreshed between steps.
    "-model_type lightgcn -model_layers 1 -model_dim 6 -train_batch_size 16 -sampler_type aobpr "
    "-sampler_aobpr_mode factor",
};

std::string Folder(const std::string& scratch, const std::string& name) {
  return " -metrics_file \"\" -checkpoint_dir " + scratch + "/" + name;
}

TEST(checkpoint_test, ResumedRunEqualsUninterruptedRun) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const Dataset data = TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "checkpoint");
  int configuration = 0;
  for (const char* options : kConfigurations) {
    const std::string tag = std::to_string(configuration++);
    Outcome straight, first, resumed;
    TrainOn(world_size, data, std::string(options) + " -train_epochs 6" + Folder(scratch, "straight" + tag), &straight);
    TrainOn(world_size, data, std::string(options) + " -train_epochs 3" + Folder(scratch, "split" + tag), &first);
    TrainOn(world_size, data,
            std::string(options) + " -train_epochs 6 -restart auto" + Folder(scratch, "split" + tag), &resumed);
    ExpectSameEnd(straight, resumed, 0, options);
  }
}

// One rank alone is signalled, in the middle of an epoch: every rank stops after the same step
// with a checkpoint holding the data cursor, and the resumed run ends as the uninterrupted one.
TEST(checkpoint_test, StopSignalOnOneRankMidEpoch) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  ASSERT_PETSC_OK(recns::InstallStopSignalHandlers());
  const Dataset data = TinyDatasetWithValid();  // 7 steps of 16 pairs per epoch
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "signal");
  const std::string options = std::string(kConfigurations[0]) + " -train_epochs 4";
  Outcome straight, stopped, resumed;
  TrainOn(world_size, data, options + Folder(scratch, "straight"), &straight);
  // A timed checkpoint at every step before the signal: writing them must not perturb the run.
  TrainOn(world_size, data, options + " -checkpoint_every_minutes 1e-9" + Folder(scratch, "stopped"),
          &stopped, [&](int rank, int64_t steps) {
    if (rank == world_size - 1 && steps == 10) raise(SIGUSR1);
  });
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  if (world_rank == 0) {
    EXPECT_TRUE(stopped.interrupted);
    EXPECT_EQ(stopped.steps_run, 11);  // the vote is cast at the next step
    EXPECT_GE(stopped.checkpoints_written, 11);
    EXPECT_NE(stopped.last_checkpoint.find("-e000001-s000000000011"), std::string::npos)
        << stopped.last_checkpoint;
  }
  TrainOn(world_size, data, options + " -restart auto" + Folder(scratch, "stopped"), &resumed);
  ExpectSameEnd(straight, resumed, 0, "signal at step 10");
}

// -train_max_steps within the first epoch ends with a checkpoint that has no finished epoch (no
// metrics rows yet); raising the limit resumes the epoch where it stopped.
TEST(checkpoint_test, StepLimitWithinTheFirstEpoch) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const Dataset data = TinyDatasetWithValid();  // 8 steps of 16 pairs per epoch
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "limit");
  const std::string options = std::string(kConfigurations[0]) + " -train_epochs 3";
  Outcome straight, first, resumed;
  TrainOn(world_size, data, options + " -train_max_steps 13" + Folder(scratch, "straight"), &straight);
  TrainOn(world_size, data, options + " -train_max_steps 3" + Folder(scratch, "limited"), &first);
  TrainOn(world_size, data, options + " -train_max_steps 13 -restart auto" + Folder(scratch, "limited"), &resumed);
  ExpectSameEnd(straight, resumed, 0, "step limit 3, then 13");
}

// A checkpoint written by P ranks resumes on 1 rank and one written by 1 rank on P ranks; both
// end where an uninterrupted 1-rank run ends, up to summation order.
TEST(checkpoint_test, ResumeOnAnotherRankCount) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  if (world_size == 1) GTEST_SKIP() << "needs more than one rank";
  ASSERT_PETSC_OK(recns::InstallStopSignalHandlers());
  const Dataset data = TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "reshape");
  for (const char* configuration : kConfigurations) {
    const std::string options = std::string(configuration) + " -train_epochs 4";
    Outcome straight, wide_first, narrow_resumed, narrow_first, wide_resumed;
    TrainOn(1, data, options + Folder(scratch, "straight"), &straight);
    // P ranks, stopped mid-epoch by a signal on one of them, then 1 rank.
    TrainOn(world_size, data, options + Folder(scratch, "wide"), &wide_first, [&](int rank, int64_t steps) {
      if (rank == 0 && steps == 12) raise(SIGTERM);
    });
    TrainOn(1, data, options + " -restart auto" + Folder(scratch, "wide"), &narrow_resumed);
    ExpectSameEnd(straight, narrow_resumed, 1e-9, std::string(configuration) + ": P ranks then 1");
    // 1 rank for two epochs, then P ranks.
    TrainOn(1, data, std::string(configuration) + " -train_epochs 2" + Folder(scratch, "narrow"), &narrow_first);
    TrainOn(world_size, data, options + " -restart auto" + Folder(scratch, "narrow"), &wide_resumed);
    ExpectSameEnd(straight, wide_resumed, 1e-9, std::string(configuration) + ": 1 rank then P");
    int world_rank;
    MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
    if (world_rank == 0)
      for (const char* folder : {"straight", "wide", "narrow"})
        EXPECT_EQ(std::system(("rm -rf " + scratch + "/" + folder).c_str()), 0);
    MPI_Barrier(PETSC_COMM_WORLD);
  }
}

// A checkpoint file whose close fails on one rank only (the last) is an error on every rank: no
// rank renames the file, none hangs, and no temporary file is left. The last rank's close is
// made to count as failed, as an I/O error at close on that rank alone would be.
TEST(checkpoint_test, FailedCloseOnOneRankFailsCommitEverywhere) {
  int world_size, world_rank;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  const Dataset data = TinyDatasetWithValid();
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "close");
  const std::string name = recns::CheckpointName(1, 7);
  const std::string path = scratch + "/" + name, temporary = scratch + "/." + name + ".tmp";
  std::unique_ptr<recns::CheckpointFile> file;
  ASSERT_PETSC_OK(recns::CheckpointFile::Create(graph, path, &file));
  ASSERT_PETSC_OK(file->WriteAttribute("/", "epoch", (int64_t)1));
  if (world_rank == world_size - 1) file->FailCloseOnThisRankForTesting();
  const std::string message = recns::test::InputError(file->Commit());
  EXPECT_NE(message.find("cannot finish writing checkpoint"), std::string::npos) << message;
  EXPECT_NE(message.find("rank " + std::to_string(world_size - 1)), std::string::npos) << message;
  file.reset();
  MPI_Barrier(PETSC_COMM_WORLD);
  struct stat info;
  EXPECT_NE(stat(path.c_str(), &info), 0) << path << " exists";
  EXPECT_NE(stat(temporary.c_str(), &info), 0) << temporary << " was left behind";
  if (world_rank == 0) EXPECT_EQ(std::system(("rm -rf " + scratch).c_str()), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
}

/// Damage done to a copy of a checkpoint with the serial HDF5 API (world rank 0).
using Damage = std::function<void(hid_t file)>;

Damage SetInteger(const std::string& group, const std::string& name, int64_t value) {
  return [=](hid_t file) {
    // Through the object: with this HDF5, H5Aopen_by_name(file, group, ...) reached the root's
    // attribute of that name instead.
    const hid_t object = H5Oopen(file, group.c_str(), H5P_DEFAULT);
    ASSERT_GE(object, 0) << group;
    const hid_t attribute = H5Aopen(object, name.c_str(), H5P_DEFAULT);
    ASSERT_GE(attribute, 0) << group << " " << name;
    EXPECT_GE(H5Awrite(attribute, H5T_NATIVE_INT64, &value), 0);
    H5Aclose(attribute);
    H5Oclose(object);
  };
}

int64_t GetInteger(hid_t file, const std::string& name) {
  int64_t value = -1;
  const hid_t attribute = H5Aopen(file, name.c_str(), H5P_DEFAULT);
  EXPECT_GE(H5Aread(attribute, H5T_NATIVE_INT64, &value), 0) << name;
  H5Aclose(attribute);
  return value;
}

Damage SetValue(const std::string& name, size_t index, double value) {
  return [=](hid_t file) {
    const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    ASSERT_GE(dataset, 0) << name;
    const hid_t space = H5Dget_space(dataset);
    std::vector<double> values((size_t)H5Sget_simple_extent_npoints(space));
    ASSERT_LT(index, values.size());
    EXPECT_GE(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    values[index] = value;
    EXPECT_GE(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Sclose(space);
    H5Dclose(dataset);
  };
}

/// Replaces a dataset with one of the same values flattened to 1-D.
Damage Flatten(const std::string& name) {
  return [=](hid_t file) {
    std::vector<double> values;
    {
      const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
      ASSERT_GE(dataset, 0) << name;
      const hid_t space = H5Dget_space(dataset);
      values.resize((size_t)H5Sget_simple_extent_npoints(space));
      EXPECT_GE(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
      H5Sclose(space);
      H5Dclose(dataset);
    }
    EXPECT_GE(H5Ldelete(file, name.c_str(), H5P_DEFAULT), 0);
    const hsize_t size = values.size();
    const hid_t space = H5Screate_simple(1, &size, nullptr);
    const hid_t dataset = H5Dcreate2(file, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT,
                                     H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Dclose(dataset);
    H5Sclose(space);
  };
}

/// World rank 0 copies `from` to `to` and damages the copy; every rank then waits for it.
void CopyDamaged(const std::string& from, const std::string& to, const std::vector<Damage>& damages) {
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  if (world_rank == 0) {
    EXPECT_EQ(std::system(("cp " + from + " " + to).c_str()), 0);
    const hid_t file = H5Fopen(to.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    EXPECT_GE(file, 0) << to;
    for (const Damage& damage : damages) damage(file);
    H5Fclose(file);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

/// Sets up a trainer on every rank, resuming as `options` say; its error code, and the steps of
/// the checkpoint it resumed from.
PetscErrorCode SetUpResumed(const Dataset& data, const std::string& options, int64_t* steps = nullptr) {
  return WithOptions(options, [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Trainer trainer(PETSC_COMM_WORLD);
    PetscCall(trainer.SetFromOptions());
    PetscCall(trainer.SetUp(data));
    if (steps) *steps = trainer.GetOutcome().steps_run;
    PetscFunctionReturn(PETSC_SUCCESS);
  });
}

/// Resumes `options` from a copy of `checkpoint` with `damages` done to it, and expects one input
/// error naming the copy and containing `expected`.
void ExpectRefused(const Dataset& data, const std::string& options, const std::string& checkpoint,
                   const std::string& damaged, const std::vector<Damage>& damages,
                   const std::string& expected) {
  CopyDamaged(checkpoint, damaged, damages);
  const PetscErrorCode code =
      SetUpResumed(data, options + " -train_epochs 4 -metrics_file \"\" -restart " + damaged);
  const std::string message = recns::test::InputError(code);
  EXPECT_NE(message.find("checkpoint '" + damaged + "'"), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << message;
}

// A checkpoint whose counters, arrays or shapes cannot come from a run is refused with one input
// error naming the file and what is wrong, on every rank alike, rather than hanging, crashing or
// training on from garbage.
TEST(checkpoint_test, DamagedCheckpointIsRefused) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const Dataset data = TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "damaged");
  const std::string options = kConfigurations[0];
  Outcome first;
  TrainOn(world_size, data, options + " -train_epochs 2" + Folder(scratch, "good"), &first);
  std::string checkpoint = first.last_checkpoint;
  ASSERT_PETSC_OK(recns::BroadcastString(PETSC_COMM_WORLD, 0, &checkpoint));
  // The counters of the good checkpoint: 2 epochs, step 0, `steps` steps.
  int64_t steps = 0;
  {
    const hid_t file = H5Fopen(checkpoint.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0) << checkpoint;
    steps = GetInteger(file, "steps");
    ASSERT_EQ(GetInteger(file, "epoch"), 2);
    ASSERT_EQ(GetInteger(file, "step"), 0);
    H5Fclose(file);
  }
  const int64_t per_epoch = steps / 2;
  const struct {
    const char* name;
    std::vector<Damage> damages;
    std::string expected;
  } cases[] = {
      {"step_negative", {SetInteger("/", "step", -3)}, "attribute 'step' is -3, not a step of an epoch"},
      {"step_beyond_epoch", {SetInteger("/", "step", per_epoch)}, "not a step of an epoch"},
      {"epoch_negative", {SetInteger("/", "epoch", -5)}, "attribute 'epoch' is -5"},
      {"epoch_huge", {SetInteger("/", "epoch", 1000000000)}, "not epoch 1000000000 times"},
      {"steps_negative", {SetInteger("/", "steps", -3)}, "attribute 'steps' is -3"},
      {"epoch_beyond_run",
       {SetInteger("/", "epoch", 12), SetInteger("/", "steps", 12 * per_epoch)},
       "/ attribute 'epoch' is 12; it must be in [0, 4] (this run's -train_epochs 4)"},
      {"user_nan", {SetValue("/model/user_embedding", 8 * 5 + 3, NAN)},
       "/model/user_embedding holds nan at row 5, column 3; its values must be finite"},
      {"item_inf", {SetValue("/model/item_embedding", 8 * 27 + 7, INFINITY)},
       "/model/item_embedding holds inf at row 27, column 7"},
      {"moment_nan", {SetValue("/optimizer/model/item_embedding_first_moment", 0, NAN)},
       "/optimizer/model/item_embedding_first_moment holds nan at row 0, column 0"},
      {"best_embedding_inf", {SetValue("/trainer/best/model/user_embedding", 8 * 39, -INFINITY)},
       "/trainer/best/model/user_embedding holds -inf at row 39, column 0"},
      {"second_moment_negative", {SetValue("/optimizer/model/user_embedding_second_moment", 8 * 20 + 1, -1)},
       "/optimizer/model/user_embedding_second_moment holds -1 at row 20, column 1; its values must be finite "
       "and at least 0"},
      {"optimizer_step_negative", {SetInteger("/optimizer", "step", -3)},
       "/optimizer attribute 'step' is -3"},
      {"optimizer_step_zero", {SetInteger("/optimizer", "step", 0)}, "/optimizer attribute 'step' is 0"},
      {"best_epoch_beyond", {SetInteger("/trainer", "best_epoch", 99999)},
       "/trainer attribute 'best_epoch' is 99999; it must be in [0, 2]"},
      {"evaluations_negative", {SetInteger("/trainer", "evaluations_without_gain", -1)},
       "/trainer attribute 'evaluations_without_gain' is -1"},
      {"ranks_huge", {SetInteger("/", "ranks", 1000000000000)}, "/ attribute 'ranks' is 1000000000000"},
      {"ranks_zero", {SetInteger("/", "ranks", 0)}, "/ attribute 'ranks' is 0"},
      {"embedding_1d", {Flatten("/model/user_embedding")},
       "/model/user_embedding is a 1-D floating-point array of shape 320; expected a 2-D "
       "floating-point array of shape 40x8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRefused(data, options, checkpoint, scratch + "/" + c.name + ".h5", c.damages, c.expected);
  }
  // -restart auto passes over a newest checkpoint whose counters do not add up, as over a
  // truncated one, and resumes from the one before.
  Outcome longer;
  TrainOn(world_size, data, options + " -train_epochs 3" + Folder(scratch, "fallback"), &longer);
  std::string newest = longer.last_checkpoint;
  ASSERT_PETSC_OK(recns::BroadcastString(PETSC_COMM_WORLD, 0, &newest));
  CopyDamaged(newest, newest + ".damaged", {SetInteger("/", "step", -3)});
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  if (world_rank == 0) EXPECT_EQ(std::rename((newest + ".damaged").c_str(), newest.c_str()), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
  int64_t resumed_steps = -1;
  ASSERT_PETSC_OK(SetUpResumed(data, options + " -train_epochs 4 -restart auto" + Folder(scratch, "fallback"), &resumed_steps));
  EXPECT_EQ(resumed_steps, 2 * per_epoch);
  if (world_rank == 0) EXPECT_EQ(std::system(("rm -rf " + scratch).c_str()), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
}

// AOBPR's exact and factor modes keep different state (none, or factor rankings and a draw
// count): a checkpoint of one mode resumed in the other is one input error naming the file and
// both modes, in either direction. The same mode reached through auto resumes.
TEST(checkpoint_test, AobprModeCannotChangeOnRestart) {
  int world_size, world_rank;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  const Dataset data = TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "aobpr_mode");
  const std::string options =
      "-model_type lightgcn -model_layers 1 -model_dim 6 -train_batch_size 16 -sampler_type aobpr";
  const struct {
    const char *written, *resumed;
  } cases[] = {{"exact", "factor"}, {"factor", "exact"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.written) + " then " + c.resumed);
    Outcome first;
    TrainOn(world_size, data, options + " -sampler_aobpr_mode " + c.written + " -train_epochs 2" +
                                  Folder(scratch, c.written), &first);
    std::string checkpoint = first.last_checkpoint;
    ASSERT_PETSC_OK(recns::BroadcastString(PETSC_COMM_WORLD, 0, &checkpoint));
    const std::string message = recns::test::InputError(SetUpResumed(
        data, options + " -sampler_aobpr_mode " + c.resumed +
                  " -train_epochs 4 -metrics_file \"\" -restart " + checkpoint));
    EXPECT_NE(message.find("checkpoint '" + checkpoint + "' holds the state of AOBPR's " +
                           c.written + " mode; this run uses its " + c.resumed + " mode"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    // 30 items: auto is the exact mode.
    const PetscErrorCode code = SetUpResumed(
        data, options + " -sampler_aobpr_mode auto -train_epochs 4 -metrics_file \"\" -restart " +
                  checkpoint);
    if (std::string(c.written) == "exact") EXPECT_EQ(code, 0) << recns::test::LastErrorMessage(code);
    else EXPECT_NE(recns::test::InputError(code).find("(-sampler_aobpr_mode auto with 30 items)"),
                   std::string::npos);
  }
  if (world_rank == 0) EXPECT_EQ(std::system(("rm -rf " + scratch).c_str()), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
}

// Damaged sampler state: values that index pools, items or factors are refused on restart
// instead of being read past their arrays.
TEST(checkpoint_test, DamagedSamplerStateIsRefused) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const Dataset data = TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "damaged_sampler");
  const struct {
    const char* name;
    const char* options;
    Damage damage;
    std::string expected;
  } cases[] = {
      {"srns_generation", kConfigurations[1], SetInteger("/sampler", "first_generation", -1),
       "/sampler attribute 'first_generation' is -1"},
      {"srns_memory_beyond", kConfigurations[1], SetValue("/sampler/memory", 5, 80),
       "/sampler/memory holds 80, not a slot of a pool of 80"},
      {"srns_memory_negative", kConfigurations[1], SetValue("/sampler/memory", 0, -1),
       "/sampler/memory holds -1"},
      {"srns_pool_snapshots", kConfigurations[1], SetInteger("/sampler", "pool1_snapshots", 3),
       "/sampler attribute 'pool1_snapshots' is 3; it must be in [0, 1]"},
      {"srns_positive_snapshots", kConfigurations[1], SetInteger("/sampler", "positive_snapshots", 1),
       "/sampler attribute 'positive_snapshots' is 1, not the current pool's 2 snapshots"},
      {"aobpr_factors", kConfigurations[2], SetInteger("/sampler", "factors", 7),
       "/sampler attribute 'factors' is 7; it must be 0 or the model's final width 6"},
      {"aobpr_draws", kConfigurations[2], SetInteger("/sampler", "draws", -1),
       "/sampler attributes 'draws' (-1)"},
      {"aobpr_order", kConfigurations[2], SetValue("/sampler/factor_order", 3, 1000000),
       "/sampler/factor_order holds item 1000000 of"},
      {"aobpr_sigma", kConfigurations[2], SetValue("/sampler/factor_sigma", 2, -1),
       "/sampler/factor_sigma holds -1; it must be finite and >= 0"},
  };
  std::map<std::string, std::string> checkpoints;  // by configuration
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string& checkpoint = checkpoints[c.options];
    if (checkpoint.empty()) {
      Outcome first;
      TrainOn(world_size, data, std::string(c.options) + " -train_epochs 2" +
                                    Folder(scratch, "good" + std::to_string(checkpoints.size())),
              &first);
      checkpoint = first.last_checkpoint;
      ASSERT_PETSC_OK(recns::BroadcastString(PETSC_COMM_WORLD, 0, &checkpoint));
    }
    ExpectRefused(data, c.options, checkpoint, scratch + "/" + c.name + ".h5", {c.damage},
                  c.expected);
  }
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  if (world_rank == 0) EXPECT_EQ(std::system(("rm -rf " + scratch).c_str()), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
}

}  // namespace
