// The built-in samplers: one line per type.
#include "recns/sampler.hpp"

namespace recns {

std::unique_ptr<Sampler> CreateSampler_Uniform(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_PNS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_DNS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_AOBPR(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_SRNS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_BNS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_MixGCF(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_ExpNS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_MixedNS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_RecNS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_ANS(MPI_Comm comm);
std::unique_ptr<Sampler> CreateSampler_AutoSample(MPI_Comm comm);

void SamplerRegisterAll() {
  static bool done = false;
  if (done) return;
  SamplerRegistry& registry = SamplerRegistry::Get();
  registry.Add(kSamplerUniform, CreateSampler_Uniform);
  registry.Add("pns", CreateSampler_PNS);
  registry.Add("dns", CreateSampler_DNS);
  registry.Add("aobpr", CreateSampler_AOBPR);
  registry.Add("srns", CreateSampler_SRNS);
  registry.Add("bns", CreateSampler_BNS);
  registry.Add("mixgcf", CreateSampler_MixGCF);
  registry.Add("expns", CreateSampler_ExpNS);
  registry.Add("mixedns", CreateSampler_MixedNS);
  registry.Add("recns", CreateSampler_RecNS);
  registry.Add("ans", CreateSampler_ANS);
  registry.Add("autosample", CreateSampler_AutoSample);
  done = true;
}

}  // namespace recns
