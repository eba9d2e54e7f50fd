#include "lace/jobs/sample_job.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "lace/io/io.hpp"
#include "lace/jobs/record.hpp"
#include "lace/jobs/solver_options.hpp"
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
}

// The command line that redoes image `index` alone.
std::string reproduce_command(const SampleJob& job, double truncation, double guidance, double min_p, int64_t tries,
                              int64_t index) {
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
  return c.str();
}

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
  io::ensure_writable_dir(job.out_dir);

  const model::Bundle bundle = model::Bundle::load(job.model_dir, job.device);
  const double psi = job.truncation.value_or(manifest.default_truncation);
  const double guidance = job.guidance.value_or(manifest.default_guidance);
  const sampling::LatentEnergy latent_energy(bundle, condition, psi, guidance);
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
  const double min_p = condition.unconditional() ? 0.0 : job.min_p.value_or(manifest.default_min_p);
  const int64_t tries = min_p > 0 ? job.tries.value_or(manifest.default_tries) : 1;
  if (min_p > 0) base["min_p"] = min_p;
  base["sampler"] = sampler_record(job.solver, job.ode, job.langevin);
  base["device"] = job.device.is_cuda() ? "cuda" : "cpu";

  sampling::VpOdeOptions ode_options = job.ode;
  ode_options.method = job.solver;
  // Rows of z0 are images `indices` (Langevin's noise follows the image, so a retry keeps its noise).
  const auto solve = [&](const torch::Tensor& z0, const std::vector<int64_t>& indices) {
    return job.solver == "ld" ? sampling::sample_langevin(latent_energy, z0, job.langevin, job.seed, indices, &progress)
                              : sampling::sample_vp_ode(latent_energy, z0, ode_options, &progress);
  };
  // log p(c | z) under the exact semantics, on the CPU.
  const auto log_p_of = [&](const torch::Tensor& z) {
    torch::NoGradGuard no_grad;
    return (-exact(bundle.classify(latent_energy.w(z)))).to(torch::kCPU, torch::kDouble);
  };
  const double log_min_p = min_p > 0 ? std::log(min_p) : -INFINITY;
  io::OutputNamer namer(job.out_dir);
  SampleReport report;
  report.min_p = min_p;
  report.tries = tries;
  report.stages.load = timer.lap();
  std::vector<io::Image> sheet;
  progress.begin(job.count);
  for (int64_t done = 0; done < job.count;) {
    const int64_t n = std::min(job.batch_size, job.count - done);
    const int64_t first = job.first_index + done;
    progress.batch(first, n);
    std::vector<int64_t> indices(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) indices[i] = first + i;
    torch::Tensor z0 = sampling::initial_latents(job.seed, first, n, manifest.generator.z_dim).to(job.device);
    sampling::SampleResult result = solve(z0, indices);
    report.nfe_total += result.stats.nfe.sum().item<int64_t>();
    // --min-p: the images below it are solved again from retry starts; each keeps its most probable try.
    torch::Tensor kept_log_p = log_p_of(result.z);
    std::vector<int64_t> solved(static_cast<size_t>(n), 1), kept_try(static_cast<size_t>(n), 0);
    for (int64_t attempt = 1; attempt < tries; ++attempt) {
      std::vector<int64_t> rows, again;
      for (int64_t i = 0; i < n; ++i)
        if (kept_log_p[i].item<double>() < log_min_p) rows.push_back(i), again.push_back(first + i);
      if (rows.empty()) break;
      std::vector<torch::Tensor> starts;
      for (const int64_t index : again)
        starts.push_back(sampling::retry_latent(job.seed, index, attempt, manifest.generator.z_dim));
      const auto retry_z0 = torch::stack(starts).to(job.device);
      const sampling::SampleResult retry = solve(retry_z0, again);
      report.nfe_total += retry.stats.nfe.sum().item<int64_t>();
      const torch::Tensor retry_log_p = log_p_of(retry.z);
      for (size_t j = 0; j < rows.size(); ++j) {
        const int64_t i = rows[j], r = static_cast<int64_t>(j);
        solved[i] += 1;
        if (retry_log_p[r].item<double>() <= kept_log_p[i].item<double>()) continue;
        kept_try[i] = attempt;
        kept_log_p[i] = retry_log_p[r];
        z0[i] = retry_z0[r];
        result.z[i] = retry.z[r];
        result.stats.nfe[i] = retry.stats.nfe[r];
        result.stats.accepted_steps[i] = retry.stats.accepted_steps[r];
        result.stats.rejected_steps[i] = retry.stats.rejected_steps[r];
      }
    }
    report.stages.solve += timer.lap();

    torch::NoGradGuard no_grad;
    const auto w = latent_energy.w(result.z);
    const auto logits = bundle.classify(w);
    const auto images = bundle.synthesis(bundle.broadcast_ws(w)).to(torch::kCPU);
    report.stages.synthesis += timer.lap();
    std::vector<io::Image> batch_images;
    std::vector<nlohmann::json> records;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t index = first + i;
      nlohmann::json record = base;
      record["index"] = index;
      record["stats"] = {{"nfe", result.stats.nfe[i].item<int64_t>()},
                         {"accepted", result.stats.accepted_steps[i].item<int64_t>()},
                         {"rejected", result.stats.rejected_steps[i].item<int64_t>()}};
      record["log_p"] = kept_log_p[i].item<double>();
      if (min_p > 0) {
        record["tries"] = {{"solved", solved[i]}, {"kept", kept_try[i]}};
        report.retried += solved[i] > 1;
        report.below_min_p += kept_log_p[i].item<double>() < log_min_p;
      }
      record["attributes"] = attribute_readings(manifest, logits[i]);
      record["z0"] = tensor_to_json(z0[i]);
      record["z"] = tensor_to_json(result.z[i]);
      record["reproduce"] = reproduce_command(job, psi, guidance, min_p, tries, index);
      batch_images.push_back(io::image_from_tensor(images[i]));
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
