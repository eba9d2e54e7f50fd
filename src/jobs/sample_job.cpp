#include "lace/jobs/sample_job.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "lace/io/io.hpp"
#include "lace/jobs/record.hpp"
#include "lace/jobs/option_checks.hpp"
#include "lace/model/bundle.hpp"
#include "lace/ode/tableau.hpp"
#include "lace/sampling/latent_energy.hpp"
#include "lace/sampling/seeds.hpp"

#ifndef LACE_VERSION
#define LACE_VERSION "dev"
#endif

namespace lace::jobs {
namespace {

void check_options(const SampleJob& job) {
  if (job.count < 1) throw std::invalid_argument("-n must be at least 1");
  if (job.batch_size < 1) throw std::invalid_argument("--batch-size must be at least 1");
  if (job.first_index < 0) throw std::invalid_argument("--start-index must not be negative");
  check_solver_options(job.solver, solver_names(), job.ode);
  if (job.langevin.steps < 1) throw std::invalid_argument("--steps must be at least 1");
  if (job.truncation && !(std::isfinite(*job.truncation) && *job.truncation >= 0))
    throw std::invalid_argument("--truncation must be a non-negative number");
  if (job.guidance && !(std::isfinite(*job.guidance) && *job.guidance > 0))
    throw std::invalid_argument("--guidance must be a positive number");
  if (job.min_p && !(*job.min_p >= 0 && *job.min_p < 1)) throw std::invalid_argument("--min-p must be in [0, 1)");
  if (job.tries && *job.tries < 1) throw std::invalid_argument("--tries must be at least 1");
  if (job.prior_weight && !(std::isfinite(*job.prior_weight) && *job.prior_weight >= 0))
    throw std::invalid_argument("--prior-weight must be a number >= 0");
}

// The weight this run gives the bundle's prior: the flag's, else the bundle's; 0 when the bundle has none.
double resolve_prior_weight(const SampleJob& job, const model::Manifest& manifest) {
  if (!manifest.prior) {
    if (job.prior_weight.value_or(0) > 0)
      throw std::invalid_argument("--prior-weight: the bundle at " + job.model_dir.string() +
                                  " has no prior (lace.json \"prior\")");
    return 0;
  }
  return job.prior_weight.value_or(manifest.prior->weight);
}

// The command line that redoes image `index` alone.
// prior_weight: the prior's weight, or nullopt when the bundle has none.
std::string reproduce_command(const SampleJob& job, double truncation, double guidance, double min_p, int64_t tries,
                              bool verify, std::optional<double> prior_weight, int64_t index) {
  std::ostringstream c;
  c << "lace sample --model '" << job.model_dir.string() << "'";
  if (!job.attrs.empty()) c << " --attrs '" << job.attrs << "' --operators " << energy::to_string(job.operators);
  c << " --seed " << job.seed << " --start-index " << index << " -n 1 --solver " << job.solver;
  if (job.solver == "ld")
    c << " --ld-step " << job.langevin.step_size << " --ld-noise " << job.langevin.noise << " --steps " << job.langevin.steps;
  else if (ode::tableau_by_name(job.solver).adaptive())
    c << " --atol " << job.ode.adaptive.atol << " --rtol " << job.ode.adaptive.rtol << " --error-norm "
      << (job.ode.adaptive.norm == ode::ErrorNorm::PerSample ? "per-sample" : "batch");
  else
    c << " --steps " << job.ode.steps;
  c << " --truncation " << truncation;
  if (!job.attrs.empty()) c << " --guidance " << guidance;
  if (!job.attrs.empty()) c << " --min-p " << min_p;  // explicit, so a bundle's later default cannot change it
  if (min_p > 0) c << " --tries " << tries;
  if (!job.attrs.empty()) c << (verify ? " --verify" : " --no-verify");
  if (prior_weight) c << " --prior-weight " << *prior_weight;
  return c.str();
}

// What lace reads off a batch of solved latents: the images and the latent classifier's logits (on the
// CPU), the probability that the condition holds under that classifier and, when verifying, under the
// bundle's image verifier; `score` is what --min-p compares and retries keep the best of: the smaller
// of the two.
struct Outcome {
  torch::Tensor images, logits, p, p_image, score;
};

Outcome read_outcome(const model::Bundle& bundle, const sampling::LatentEnergy& latent_energy,
                     const energy::Energy& condition, const torch::Tensor& z, bool verify) {
  torch::NoGradGuard no_grad;
  const auto w = latent_energy.w(z);
  const auto logits = bundle.classify(w);
  const auto images = bundle.synthesis(bundle.broadcast_ws(w));
  Outcome o{images.to(torch::kCPU), logits.to(torch::kCPU), condition.probability(logits).to(torch::kCPU), {}, {}};
  o.score = o.p;
  if (verify) {
    // Every judge of the verifier must read it (VerifierSpec::judges): the least P counts.
    o.p_image = condition.least_probability(bundle.verify_each(images)).to(torch::kCPU);
    o.score = torch::minimum(o.p, o.p_image);
  }
  return o;
}

// A batch's solve and what was read off it, row by row.
struct Batch {
  torch::Tensor z0, z;
  ode::SolveStats stats;
  Outcome out;

  // Row i becomes row r of `other` (a retry's better try).
  void take_row(int64_t i, const Batch& other, int64_t r) {
    for (auto [to, from] : {std::pair{&z0, &other.z0}, {&z, &other.z}, {&stats.nfe, &other.stats.nfe},
                            {&stats.accepted_steps, &other.stats.accepted_steps},
                            {&stats.rejected_steps, &other.stats.rejected_steps}, {&out.images, &other.out.images},
                            {&out.logits, &other.out.logits}, {&out.p, &other.out.p}, {&out.score, &other.out.score}})
      (*to)[i] = (*from)[r];
    if (out.p_image.defined()) out.p_image[i] = other.out.p_image[r];
  }
};

}  // namespace

std::vector<std::string> solver_names() {
  auto names = ode::tableau_names();
  names.push_back("ld");
  return names;
}

SampleReport run_sample(const SampleJob& job, Progress& progress) {
  LapTimer timer;
  check_options(job);
  // Cheap checks first, so a typo fails before any model is loaded: manifest, expression, folder.
  const model::Manifest manifest = model::read_manifest(job.model_dir);
  energy::Energy condition = energy::compile(job.attrs, manifest.attributes, job.operators);
  check_verifier(job.verify, manifest, false, job.model_dir);
  const double prior_weight = resolve_prior_weight(job, manifest);
  io::ensure_writable_dir(job.out_dir);

  const model::Bundle bundle = model::Bundle::load(job.model_dir, job.device);
  const double psi = job.truncation.value_or(manifest.default_truncation);
  const double guidance = job.guidance.value_or(manifest.default_guidance);
  std::optional<energy::AttributePrior> prior;
  if (prior_weight > 0) prior.emplace(manifest.prior->attributes, manifest.prior->log_ratio, manifest.attributes);
  const sampling::LatentEnergy latent_energy(bundle, condition, psi, guidance, prior, prior_weight);
  // log p(c | z) in the exact semantics is reported whatever operators guided the sampler.
  const energy::Energy exact = job.operators == energy::Operators::Exact
                                   ? condition
                                   : energy::compile(job.attrs, manifest.attributes, energy::Operators::Exact);

  nlohmann::json base;
  base["lace_version"] = LACE_VERSION;
  base["command"] = "sample";
  base["model"] = {{"name", manifest.name}, {"path", job.model_dir.string()}, {"sha256", bundle_hash(bundle)}};
  base["condition"] = {{"expression", job.attrs}, {"canonical", condition.canonical()},
                       {"operators", energy::to_string(job.operators)}};
  base["seed"] = job.seed;
  base["truncation"] = psi;
  base["guidance"] = guidance;
  // Only a bundle with a prior records its weight (and states it in `reproduce`).
  const std::optional<double> recorded_prior_weight = manifest.prior ? std::optional(prior_weight) : std::nullopt;
  if (recorded_prior_weight) base["prior_weight"] = *recorded_prior_weight;
  const double min_p = condition.unconditional() ? 0.0 : job.min_p.value_or(manifest.default_min_p);
  const int64_t tries = min_p > 0 ? job.tries.value_or(manifest.default_tries) : 1;
  if (min_p > 0) base["min_p"] = min_p;
  const bool verify = !condition.unconditional() && job.verify.value_or(bundle.has_verifier());
  if (verify) base["verifier"] = manifest.verifier->file;
  base["sampler"] = sampler_record(job.solver, job.ode, job.langevin);
  base["device"] = job.device.is_cuda() ? "cuda" : "cpu";

  SampleReport report;
  report.min_p = min_p;
  report.tries = tries;
  report.verified = verify;
  sampling::VpOdeOptions ode_options = job.ode;
  ode_options.method = job.solver;
  // Rows of z0 are images `indices` (Langevin's noise follows the image, so a retry keeps its noise).
  const auto solve = [&](const torch::Tensor& z0, const std::vector<int64_t>& indices) {
    Batch b;
    b.z0 = z0;
    const auto result = job.solver == "ld"
                            ? sampling::sample_langevin(latent_energy, z0, job.langevin, job.seed, indices, &progress)
                            : sampling::sample_vp_ode(latent_energy, z0, ode_options, &progress);
    b.z = result.z;
    b.stats = result.stats;
    report.nfe_total += result.stats.nfe.sum().item<int64_t>();
    report.stages.solve += timer.lap();
    b.out = read_outcome(bundle, latent_energy, condition, b.z, verify);
    report.stages.synthesis += timer.lap();
    return b;
  };
  io::OutputNamer namer(job.out_dir);
  report.stages.load = timer.lap();
  std::vector<io::Image> sheet;
  progress.begin(job.count);
  for (int64_t done = 0; done < job.count;) {
    const int64_t n = std::min(job.batch_size, job.count - done);
    const int64_t first = job.first_index + done;
    progress.batch(first, n);
    std::vector<int64_t> indices(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) indices[i] = first + i;
    Batch batch = solve(sampling::initial_latents(job.seed, first, n, manifest.generator.z_dim).to(job.device), indices);
    // --min-p: the images scoring below it are solved again from retry starts; each keeps its best try.
    std::vector<int64_t> solved(static_cast<size_t>(n), 1), kept_try(static_cast<size_t>(n), 0);
    for (int64_t attempt = 1; attempt < tries; ++attempt) {
      std::vector<int64_t> rows, again;
      for (int64_t i = 0; i < n; ++i)
        if (batch.out.score[i].item<double>() < min_p) rows.push_back(i), again.push_back(first + i);
      if (rows.empty()) break;
      std::vector<torch::Tensor> starts;
      for (const int64_t index : again)
        starts.push_back(sampling::retry_latent(job.seed, index, attempt, manifest.generator.z_dim));
      const Batch retry = solve(torch::stack(starts).to(job.device), again);
      for (size_t j = 0; j < rows.size(); ++j) {
        const int64_t i = rows[j], r = static_cast<int64_t>(j);
        solved[i] += 1;
        if (retry.out.score[r].item<double>() <= batch.out.score[i].item<double>()) continue;
        kept_try[i] = attempt;
        batch.take_row(i, retry, r);
      }
    }

    const auto log_p = (-exact(batch.out.logits)).to(torch::kDouble);
    std::vector<io::Image> batch_images;
    std::vector<nlohmann::json> records;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t index = first + i;
      nlohmann::json record = base;
      record["index"] = index;
      record["stats"] = {{"nfe", batch.stats.nfe[i].item<int64_t>()},
                         {"accepted", batch.stats.accepted_steps[i].item<int64_t>()},
                         {"rejected", batch.stats.rejected_steps[i].item<int64_t>()}};
      record["log_p"] = log_p[i].item<double>();
      record["p"] = batch.out.p[i].item<double>();
      if (verify) record["p_image"] = batch.out.p_image[i].item<double>();
      if (min_p > 0) {
        record["tries"] = {{"solved", solved[i]}, {"kept", kept_try[i]}};
        report.retried += solved[i] > 1;
        report.below_min_p += batch.out.score[i].item<double>() < min_p;
      }
      record["attributes"] = attribute_readings(manifest, batch.out.logits[i]);
      record["z0"] = tensor_to_json(batch.z0[i]);
      record["z"] = tensor_to_json(batch.z[i]);
      record["reproduce"] = reproduce_command(job, psi, guidance, min_p, tries, verify, recorded_prior_weight, index);
      batch_images.push_back(io::image_from_tensor(batch.out.images[i]));
      records.push_back(std::move(record));
    }
    const auto encoded = io::encode_images_with_records(batch_images, records);
    for (int64_t i = 0; i < n; ++i) {
      report.images.push_back(write_image_and_record(namer, first + i, encoded[i], report.images.empty()));
      progress.written(report.images.back());
      if (job.grid) sheet.push_back(std::move(batch_images[i]));
    }
    done += n;
    report.stages.writing += timer.lap();
  }
  if (job.grid) {
    const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(sheet.size()))));
    report.grid = namer.grid();
    io::write_file_atomic(report.grid, io::encode_png(io::contact_sheet(sheet, columns)));
    report.stages.writing += timer.lap();
  }
  progress.end();
  report.seconds = timer.since_start();
  return report;
}

}  // namespace lace::jobs
