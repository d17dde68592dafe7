// The built-in samplers: one line per type.
#include "recns/sampler.hpp"

namespace recns {

std::unique_ptr<Sampler> CreateSampler_Uniform(MPI_Comm comm);

void SamplerRegisterAll() {
  static bool done = false;
  if (done) return;
  SamplerRegistry::Get().Add(kSamplerUniform, CreateSampler_Uniform);
  done = true;
}

}  // namespace recns
