// `lace sample`: flags -> jobs::SampleJob -> jobs::run_sample.
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/progress_bar.hpp"
#include "cli/runtime.hpp"
#include "lace/jobs/sample_job.hpp"

namespace lace::cli {

Action add_sample_command(CLI::App& app, const GlobalOptions& global) {
  auto* cmd = app.add_subcommand("sample", "sample images that satisfy an attribute expression");
  struct Flags {
    jobs::SampleJob job;
    std::string model = default_model_dir();
    std::string operators = "exact";
    std::string error_norm = "per-sample";
    std::string out = "outputs";
    double truncation = -1;
    double guidance = -1;
    double min_p = -1;
    int64_t tries = 0;
    double prior_weight = -1;
    int64_t steps = 100;
  };
  auto flags = std::make_shared<Flags>();
  auto& j = flags->job;
  cmd->add_option("-m,--model", flags->model, "model bundle folder (default: $LACE_MODEL or the built-in bundle)")
      ->capture_default_str();
  cmd->add_option("-a,--attrs", j.attrs, "condition, e.g. \"smile AND glasses AND NOT beard\" (docs/expressions.md); empty: unconditional");
  cmd->add_option("--operators", flags->operators, "exact (probabilistic AND/OR/NOT) or lace (the authors' heuristics)")
      ->check(CLI::IsMember({"exact", "lace"}))
      ->capture_default_str();
  cmd->add_option("-n,--count", j.count, "number of images")->check(kPositive)->capture_default_str();
  cmd->add_option("-b,--batch-size", j.batch_size, "images solved together")->check(kPositive)->capture_default_str();
  cmd->add_option("-s,--seed", j.seed, "random seed; image i's start depends only on (seed, i)")->capture_default_str();
  cmd->add_option("--start-index", j.first_index, "index of the first image (redo image i of a run with -n 1)")
      ->check(kNonNegative)
      ->capture_default_str();
  cmd->add_option("--solver", j.solver, "dopri5 (adaptive), euler, heun, rk4 (fixed steps) or ld (Langevin)")
      ->check(CLI::IsMember(jobs::solver_names()))
      ->capture_default_str();
  add_adaptive_solver_flags(cmd, j.ode.adaptive, flags->error_norm);
  cmd->add_option("--steps", flags->steps, "steps for euler, heun, rk4 and ld")->check(kPositive)->capture_default_str();
  cmd->add_option("--ld-step", j.langevin.step_size, "Langevin step size eta")->check(kPositive)->capture_default_str();
  cmd->add_option("--ld-noise", j.langevin.noise, "Langevin noise scale s")->check(kNonNegative)->capture_default_str();
  cmd->add_option("-t,--truncation", flags->truncation, "truncation psi (default: the bundle's)")->check(kNonNegative);
  cmd->add_option("-g,--guidance", flags->guidance,
                  "guidance scale g: each discrete term's probability to the power g, continuous targets as they are "
                  "(default: the bundle's, else 1 as in LACE)")
      ->check(kPositive);
  cmd->add_option("--min-p", flags->min_p,
                  "solve again, from fresh starts, the images whose condition holds with less than this probability, "
                  "as the latent classifier (and the bundle's verifier) reads it; each keeps its best try (0: off; "
                  "default: the bundle's, else 0)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--tries", flags->tries, "most solves per image with --min-p (default: the bundle's, else 4)")
      ->check(kPositive);
  add_verify_flags(cmd, j.verify);
  cmd->add_option("--prior-weight", flags->prior_weight,
                  "weight of the bundle's prior, which pulls the attributes the condition leaves free toward the "
                  "data's mix (lace.json \"prior\"; 0: off; default: the bundle's)")
      ->check(kNonNegative);
  cmd->add_option("-o,--out", flags->out, "output folder (created if missing; files are never overwritten)")->capture_default_str();
  cmd->add_flag("--grid", j.grid, "also write one contact sheet of the run");

  return [flags, &global] {
    auto& job = flags->job;
    job.model_dir = flags->model;
    job.out_dir = flags->out;
    job.operators = energy::operators_from_string(flags->operators);
    job.ode.adaptive.norm = error_norm_from_flag(flags->error_norm);
    job.ode.steps = job.langevin.steps = flags->steps;
    if (flags->truncation >= 0) job.truncation = flags->truncation;
    if (flags->guidance > 0) job.guidance = flags->guidance;
    if (flags->min_p >= 0) job.min_p = flags->min_p;
    if (flags->tries > 0) job.tries = flags->tries;
    if (flags->prior_weight >= 0) job.prior_weight = flags->prior_weight;
    job.device = resolve_device(global.device);

    ProgressBar bar(!global.quiet && stderr_is_terminal());
    const auto report = jobs::run_sample(job, bar);
    spdlog::info("wrote {} image(s) to {} in {:.2f} s ({} vector-field evaluations per image on average)",
                 report.images.size(), job.out_dir.string(), report.seconds,
                 report.nfe_total / static_cast<int64_t>(report.images.size()));
    if (report.min_p > 0)
      spdlog::info("{} image(s) solved again for --min-p {} ({}); {} still below it after {} tries", report.retried,
                   report.min_p, report.verified ? "latent classifier and verifier" : "latent classifier",
                   report.below_min_p, report.tries);
    spdlog::debug("stages: loading {:.2f} s, solve {:.2f} s, synthesis {:.2f} s, writing {:.2f} s", report.stages.load,
                  report.stages.solve, report.stages.synthesis, report.stages.writing);
    for (const auto& p : report.images) spdlog::debug("  {}", p.string());
    if (!report.grid.empty()) spdlog::info("contact sheet: {}", report.grid.string());
  };
}

}  // namespace lace::cli
