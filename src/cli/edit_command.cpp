// `lace edit`: flags -> jobs::EditJob -> jobs::run_edit.
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/progress_bar.hpp"
#include "cli/runtime.hpp"
#include "lace/jobs/edit_job.hpp"
#include "lace/ode/tableau.hpp"

namespace lace::cli {

Action add_edit_command(CLI::App& app, const GlobalOptions& global) {
  auto* cmd = app.add_subcommand("edit", "edit images one attribute after another (docs/edit.md)");
  struct Flags {
    jobs::EditJob job;
    std::string sequence, model = default_model_dir(), out = "outputs", error_norm = "per-sample";
    double truncation = -1, previous = -1, newest = -1, newest_continuous = -1, reg_z = -1, reg_logits = -1, keep = -1,
           keep_sigma = -1;
    double min_p = -1;
    int64_t tries = 0;
    double tolerance = -1;
    int64_t polish = -1;
  };
  auto flags = std::make_shared<Flags>();
  auto& j = flags->job;
  cmd->add_option("--sequence", flags->sequence, "edits.json: the starts and the edits (docs/edit.md)")->required();
  cmd->add_option("-m,--model", flags->model, "model bundle folder (default: $LACE_MODEL or the built-in bundle)")
      ->capture_default_str();
  cmd->add_option("-o,--out", flags->out, "output folder (created if missing; files are never overwritten)")->capture_default_str();
  cmd->add_option("-b,--batch-size", j.batch_size, "starts edited together")->check(kPositive)->capture_default_str();
  cmd->add_option("--solver", j.solver, "dopri5 (adaptive), euler, heun or rk4 (fixed steps)")
      ->check(CLI::IsMember(ode::tableau_names()))
      ->capture_default_str();
  add_adaptive_solver_flags(cmd, j.ode.adaptive, flags->error_norm);
  cmd->add_option("--steps", j.ode.steps, "steps for euler, heun and rk4")->check(kPositive)->capture_default_str();
  cmd->add_option("-t,--truncation", flags->truncation, "truncation psi (default: the file's, else the bundle's editing or sampling default)")
      ->check(kNonNegative);
  cmd->add_option("--weight-previous", flags->previous, "weight of earlier edits' conditions (default: the file's, the bundle's, else 0.1)")->check(kNonNegative);
  cmd->add_option("--weight-newest", flags->newest, "weight of the newest condition (default: the file's, the bundle's, else 1)")->check(kNonNegative);
  cmd->add_option("--weight-newest-continuous", flags->newest_continuous,
                  "weight of the newest condition when it sets a continuous attribute (default: the file's, the bundle's, else 10)")
      ->check(kNonNegative);
  cmd->add_option("--reg-z", flags->reg_z, "pull towards the previous step's z and w (default: the file's, the bundle's, else 0.04)")->check(kNonNegative);
  cmd->add_option("--reg-logits", flags->reg_logits, "keep the logits of attributes not yet edited (default: the file's, the bundle's, else 0.01)")
      ->check(kNonNegative);
  cmd->add_option("--weight-keep", flags->keep,
                  "hold attributes not yet edited: discrete ones their class at the previous step, continuous ones their first value within two sigmas (default: the file's, the bundle's, else 0)")
      ->check(kNonNegative);
  cmd->add_option("--keep-sigma", flags->keep_sigma,
                  "the sigma of --weight-keep's band for continuous attributes (and of what --min-p reads as kept): "
                  "free within two of it, quadratic beyond (0: each attribute's own; default: the file's, the bundle's, else 0)")
      ->check(kNonNegative);

  cmd->add_option("--min-p", flags->min_p,
                  "solve a step again, its conditions and keep term weighing double per try, where any condition set "
                  "so far, or any attribute none names, holds with less than this probability as the bundle's verifier "
                  "reads the step's image (then each retry corrects its targets by the verifier's reading), else as "
                  "the latent classifier reads it (0: off; default: the file's, the bundle's, else 0)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--tries", flags->tries, "most solves per step with --min-p (default: the file's, the bundle's, else 3)")
      ->check(kPositive);
  cmd->add_option("--tolerance", flags->tolerance,
                  "continuous targets read within this distance count as met in what --min-p reads (at least each "
                  "attribute's own; the energy is unchanged; default: the file's, the bundle's, else 0)")
      ->check(kNonNegative);
  cmd->add_option("--polish", flags->polish,
                  "gradient steps that polish a step still below --min-p after its tries: the same energy, read by "
                  "the verifier on the image (0: off; default: the file's, the bundle's, else 0)")
      ->check(kNonNegative);
  add_verify_flags(cmd, flags->job.verify);

  return [flags, &global] {
    auto& job = flags->job;
    job.sequence_file = flags->sequence;
    job.model_dir = flags->model;
    job.out_dir = flags->out;
    job.ode.adaptive.norm = error_norm_from_flag(flags->error_norm);
    const auto set = [](double value, std::optional<double>& into) {
      if (value >= 0) into = value;
    };
    set(flags->truncation, job.overrides.truncation);
    set(flags->previous, job.overrides.previous);
    set(flags->newest, job.overrides.newest);
    set(flags->newest_continuous, job.overrides.newest_continuous);
    set(flags->reg_z, job.overrides.reg_z);
    set(flags->reg_logits, job.overrides.reg_logits);
    set(flags->keep, job.overrides.keep);
    set(flags->keep_sigma, job.overrides.keep_sigma);
    set(flags->min_p, job.overrides.min_p);
    set(flags->tolerance, job.overrides.tolerance);
    if (flags->tries > 0) job.overrides.tries = flags->tries;
    if (flags->polish >= 0) job.overrides.polish = flags->polish;
    job.device = resolve_device(global.device);

    ProgressBar bar(!global.quiet && stderr_is_terminal());
    const auto report = jobs::run_edit(job, bar);
    for (const auto& w : report.warnings) spdlog::warn("{}", w);
    spdlog::info("edited {} start(s) in {} step(s): {} image(s) and {} strip(s) in {}, sheet {} ({:.2f} s)", report.starts,
                 report.steps, report.images.size(), report.strips.size(), job.out_dir.string(), report.sheet.string(),
                 report.seconds);
    if (report.retried > 0)
      spdlog::info("{} step(s) solved again for --min-p, {} polished; {} still below it", report.retried, report.polished,
                   report.below_min_p);
    spdlog::debug("stages: loading {:.2f} s, solve {:.2f} s, synthesis {:.2f} s, writing {:.2f} s", report.stages.load,
                  report.stages.solve, report.stages.synthesis, report.stages.writing);
    for (const auto& p : report.images) spdlog::debug("  {}", p.string());
  };
}

}  // namespace lace::cli
