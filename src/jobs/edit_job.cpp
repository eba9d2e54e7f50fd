#include "lace/jobs/edit_job.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "lace/io/io.hpp"
#include "lace/jobs/record.hpp"
#include "lace/jobs/option_checks.hpp"
#include "lace/model/bundle.hpp"
#include "lace/ode/integrate.hpp"
#include "lace/ode/tableau.hpp"
#include "lace/sampling/edit_energy.hpp"
#include "lace/sampling/latent_energy.hpp"
#include "lace/sampling/seeds.hpp"

#ifndef LACE_VERSION
#define LACE_VERSION "dev"
#endif

namespace lace::jobs {
namespace fs = std::filesystem;
namespace {

void check_options(const EditJob& job) {
  if (job.batch_size < 1) throw std::invalid_argument("--batch-size must be at least 1");
  check_solver_options(job.solver, ode::tableau_names(), job.ode);  // no Langevin for edits
  const auto& o = job.overrides;
  bool ok = !o.truncation || *o.truncation >= 0;
  for (const auto& field : model::edit_weight_fields()) ok = ok && (!(o.*field.setting) || *(o.*field.setting) >= 0);
  if (!ok) throw std::invalid_argument("weights and --truncation must be numbers >= 0");
  if (o.min_p && !(*o.min_p >= 0 && *o.min_p < 1)) throw std::invalid_argument("--min-p must be in [0, 1)");
  if (o.tries && *o.tries < 1) throw std::invalid_argument("--tries must be at least 1");
  if (o.tolerance && !(*o.tolerance >= 0)) throw std::invalid_argument("--tolerance must be a number >= 0");
}

// The attributes as an edit reads them: every continuous one met within at least `tolerance`.
std::vector<model::Attribute> with_tolerance(std::vector<model::Attribute> attributes, double tolerance) {
  for (auto& a : attributes)
    if (a.kind == model::AttributeKind::Continuous) a.tolerance = std::max(a.tolerance, tolerance);
  return attributes;
}

// An expression of the sequence file; its errors become the file's errors, naming the field.
energy::Energy compile_field(const EditSequence& seq, const std::string& field, const std::string& expr,
                             const std::vector<model::Attribute>& attributes) {
  try {
    return energy::compile(expr, attributes, energy::Operators::Exact);
  } catch (const energy::ParseError& e) {
    throw InputError(seq.file.string() + ": " + field + " '" + expr + "': " + e.what());
  } catch (const energy::ExpressionError& e) {
    throw InputError(seq.file.string() + ": " + field + " '" + expr + "': " + e.what());
  }
}

struct Starts {
  torch::Tensor z;                    // [N, z_dim], CPU
  std::vector<nlohmann::json> origin; // what each start is, for its records
};

Starts resolve_starts(const EditSequence& seq, int64_t z_dim) {
  const auto& s = seq.start;
  const std::string file = seq.file.string();
  Starts out;
  std::vector<torch::Tensor> rows;
  const auto add = [&](const std::vector<float>& z, const std::string& field, nlohmann::json origin) {
    if (static_cast<int64_t>(z.size()) != z_dim)
      throw InputError(file + ": " + field + ": z has " + std::to_string(z.size()) + " values, the model's z_dim is " +
                       std::to_string(z_dim));
    rows.push_back(torch::tensor(z, torch::kFloat).reshape({1, z_dim}));
    out.origin.push_back(std::move(origin));
  };
  switch (s.source) {
    case EditStart::Source::Seed:
      for (const int64_t index : s.indices) {
        rows.push_back(sampling::initial_latents(s.seed, index, 1, z_dim));
        out.origin.push_back({{"seed", s.seed}, {"index", index}});
      }
      break;
    case EditStart::Source::Latents:
      for (size_t i = 0; i < s.z.size(); ++i) {
        const std::string field = (s.z_file.empty() ? "start.z" : "start.z_file '" + s.z_file + "'") + "[" + std::to_string(i) + "]";
        add(s.z[i], field, s.z_file.empty() ? nlohmann::json{{"z_row", i}} : nlohmann::json{{"z_file", s.z_file}, {"z_row", i}});
      }
      break;
    case EditStart::Source::Images:
      for (size_t i = 0; i < s.images.size(); ++i) {
        const std::string field = "start.images[" + std::to_string(i) + "] '" + s.images[i].string() + "'";
        nlohmann::json record;
        try {
          record = io::read_record(s.images[i]);
        } catch (const io::OutputError& e) {
          throw InputError(file + ": " + field + ": " + e.what());
        }
        if (!record.contains("z")) throw InputError(file + ": " + field + ": its lace record holds no z");
        std::vector<float> z;
        try {
          z = io::floats_from_json(record["z"]);
        } catch (const std::invalid_argument& e) {
          throw InputError(file + ": " + field + ": its record's z is broken: " + e.what());
        }
        nlohmann::json origin = {{"image", s.images[i].string()}};
        if (record.contains("model") && record["model"].contains("sha256")) origin["model_sha256"] = record["model"]["sha256"];
        add(z, field, origin);
      }
      break;
  }
  out.z = torch::cat(rows);
  return out;
}

std::string reproduce_command(const EditJob& job, const EditChoice& choice, bool verify) {
  const double psi = choice.truncation;
  const model::EditWeights& w = choice.weights;
  std::ostringstream c;
  c << "lace edit --sequence '" << job.sequence_file.string() << "' --model '" << job.model_dir.string()
    << "' --solver " << job.solver;
  if (ode::tableau_by_name(job.solver).adaptive())
    c << " --atol " << job.ode.adaptive.atol << " --rtol " << job.ode.adaptive.rtol;
  else
    c << " --steps " << job.ode.steps;
  c << " --truncation " << psi;
  for (const auto& field : model::edit_weight_fields()) c << " " << field.flag << " " << w.*field.weight;
  c << " --min-p " << choice.min_p;  // explicit, so a bundle's later default cannot change it
  if (choice.min_p > 0) c << " --tries " << choice.tries;
  c << " --tolerance " << choice.tolerance;
  if (choice.min_p > 0 && verify) c << " --polish " << choice.polish;  // the polish reads images
  c << (verify ? " --verify" : " --no-verify");
  return c.str();
}

// What a step's z gives, read once and written as is: its w+ and the latent classifier's logits (device),
// P(the newest condition) under the latent classifier and, verifying, the step's images (CPU), the
// verifier's logits on them (device; the next step holds the classes they show) and its P. `each` is
// P(condition k) for every condition set so far and `kept` how surely each attribute no condition names
// still reads as held (sampling::kept_probabilities), both read by the verifier when verifying (the image
// is what is seen, and a corrected retry aims the latent classifier off the target on purpose), else by
// the latent classifier; `score`, what min_p compares, is the weakest of them all: a step that met its own
// target but undid an earlier one (the face bundle's yaw, turned back by later steps while the latent
// classifier read it held) or changed an attribute nobody asked for (its glasses step grew beards) is
// solved again too. Without a verifier the images are synthesised only for the rows kept.
struct StepReading {
  torch::Tensor ws, logits, images, verified;
  torch::Tensor p, p_image, each, kept, score;  // float64 CPU: [n], each [n, conditions], kept [n, untouched]
  std::vector<std::string> kept_names;           // kept's columns

  // Row i becomes row r of `other` (a retry's better try).
  void take_row(int64_t i, const StepReading& other, int64_t r) {
    for (auto [to, from] : {std::pair{&ws, &other.ws}, {&logits, &other.logits}, {&images, &other.images},
                            {&verified, &other.verified}, {&p, &other.p}, {&p_image, &other.p_image},
                            {&each, &other.each}, {&kept, &other.kept}, {&score, &other.score}})
      if (to->defined()) (*to)[i] = (*from)[r];
  }
};

// What a step must keep, each [n, num_logits]: the classes of the previous step's image and the continuous
// values of the first one (or of the step that last named the attribute), as min_p's reader (the verifier,
// else the latent classifier) reads them; and those values as the latent classifier read them, which a first
// solve holds (it reads the latent classifier unshifted; a verifying retry reads it shifted onto the
// verifier, so it holds `values`). Without a verifier `values` and `latent_values` are the same.
struct KeptTargets {
  torch::Tensor classes, values, latent_values;
  KeptTargets rows(const torch::Tensor& index) const {
    const auto pick = [&](const torch::Tensor& t) { return t.index_select(0, index.to(t.device())); };
    return {pick(classes), pick(values), pick(latent_values)};
  }
};

StepReading read_step(const model::Bundle& bundle, double psi, const std::vector<energy::Energy>& conditions,
                      const KeptTargets& targets, const std::vector<model::Attribute>& attributes, double keep_sigma,
                      const torch::Tensor& z, const torch::Tensor& ws_previous, const std::vector<int64_t>& layers,
                      bool verify) {
  torch::NoGradGuard no_grad;
  const energy::Energy& newest = conditions.back();
  const auto w = bundle.truncate(bundle.mapping(z), psi);
  StepReading r;
  r.ws = sampling::step_ws(ws_previous, w, layers);
  r.logits = bundle.classify(w);
  r.p = newest.probability(r.logits).to(torch::kCPU, torch::kDouble);
  torch::Tensor judges;  // [J, n, num_logits]: the conditions read by each judge, the least P counts
  if (verify) {
    const auto images = bundle.synthesis(r.ws);
    judges = bundle.verify_each(images);
    r.verified = judges.mean(0);
    r.images = images.to(torch::kCPU);
  }
  const torch::Tensor& reader = verify ? r.verified : r.logits;
  if (!verify) judges = reader.unsqueeze(0);
  std::vector<torch::Tensor> each;
  for (const auto& c : conditions) each.push_back(c.least_probability(judges).to(torch::kCPU, torch::kDouble));
  r.each = torch::stack(each, 1);
  if (verify) r.p_image = r.each.select(1, r.each.size(1) - 1).clone();  // the newest condition, as the image reads
  // Attributes no condition names are held at what the mean of the judges read at the start (KeptTargets).
  auto kept = sampling::kept_probabilities(reader, targets.classes, targets.values, conditions, attributes, keep_sigma);
  r.kept = kept.p;
  r.kept_names = std::move(kept.names);
  r.score = std::get<0>(torch::cat({r.each, r.kept}, 1).min(1));
  return r;
}

// The rows whose weakest reading is below min_p, but for those in `skip`.
std::vector<int64_t> rows_below(const StepReading& reading, double min_p, const std::set<int64_t>& skip = {}) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < reading.score.size(0); ++i)
    if (reading.score[i].item<double>() < min_p && !skip.count(i)) rows.push_back(i);
  return rows;
}

// A step's result after min_p: rows where a condition set so far (the newest or an earlier one), or an
// attribute none names, reads below min_p are solved again from the previous step's z with every
// condition's weight and the keep term's doubled per try (2x, 4x, ...); a row keeps its first try to reach
// min_p, else its best one (the highest weakest reading). The distance regularizers keep their weights, so
// a harder push still starts from, and is held near, the previous step.
// Verifying, a retry also reads every attribute, in the conditions and the keep term, corrected by the gap
// between the latent classifier and the verifier on the row's best try so far (EditEnergy's reading_shift):
// doubled weights cannot help where the latent classifier already reads a target met, or a class or value
// held, and the image does not.
// A row's retry may take four times the steps of its own first solve (at least 100) at most: one that needs
// more is stiff (doubled continuous weights); it stops there, keeps its earlier try and is not tried again.
// On the face bundle such a retry ran 26 minutes before this cap, and a cap from the batch's slowest row
// still let every retried row of that batch run long.
struct Retried {
  torch::Tensor z, nfe;
  StepReading reading;
  std::vector<std::pair<int64_t, int64_t>> tries;  // per row: solved, kept (0: the first solve)
  int64_t retried = 0;
  std::string failed_try = {};  // why a stronger try could not finish (its rows keep what they had), or ""
  std::set<int64_t> stopped;      // rows with a retry stopped at its step cap (they keep their earlier try)
  std::set<int64_t> polished;     // rows that kept their polish (polish_weak_edits)
};

Retried retry_weak_edits(const model::Bundle& bundle, double psi, const std::vector<energy::Energy>& conditions,
                         const KeptTargets& targets, const std::vector<model::Attribute>& attributes,
                         const torch::Tensor& z_previous, const torch::Tensor& ws_previous,
                         const std::vector<int64_t>& layers,
                         const sampling::SampleResult& first,
                         const model::EditWeights& weights, const EditChoice& choice, bool verify,
                         const sampling::VpOdeOptions& ode_options, Progress& progress) {
  const int64_t n = first.z.size(0);
  const auto read = [&](const torch::Tensor& z, const torch::Tensor& ws, const KeptTargets& t) {
    return read_step(bundle, psi, conditions, t, attributes, choice.weights.keep_sigma, z, ws, layers, verify);
  };
  Retried out{first.z.clone(), first.stats.nfe.clone(), read(first.z, ws_previous, targets),
              std::vector<std::pair<int64_t, int64_t>>(n, {1, 0}), 0, "", {}, {}};
  if (choice.min_p <= 0) return out;
  // Each row's retry may take four times the steps of its own first solve, at least 100 (a first solve of
  // a few steps says little about what a corrected target needs); a row at its cap stops and keeps its try.
  const torch::Tensor first_steps = first.stats.accepted_steps + first.stats.rejected_steps;
  const auto retry_cap = [&](int64_t i) {
    return std::min(ode_options.adaptive.max_steps, std::max<int64_t>(4 * first_steps[i].item<int64_t>(), 100));
  };
  sampling::VpOdeOptions retry_options = ode_options;
  retry_options.adaptive.stop_rows_at_cap = true;
  for (int64_t attempt = 1; attempt < choice.tries; ++attempt) {
    // A row stopped at its cap is not tried again: a stronger try would be stiffer still.
    const std::vector<int64_t> rows = rows_below(out.reading, choice.min_p, out.stopped);
    if (rows.empty()) break;
    retry_options.adaptive.row_max_steps.clear();
    for (const int64_t i : rows) retry_options.adaptive.row_max_steps.push_back(retry_cap(i));
    const auto index = torch::tensor(rows, torch::kLong).to(z_previous.device());
    const torch::Tensor from = z_previous.index_select(0, index);
    // Every condition weighs more against the distance regularizers, the earlier ones too, and so does the
    // keep term, so that pushing the newest harder does not undo them or change what no step asked for.
    const double factor = std::pow(2.0, static_cast<double>(attempt));
    model::EditWeights stronger = weights;
    stronger.previous *= factor;
    stronger.newest *= factor;
    stronger.newest_continuous *= factor;
    stronger.keep *= factor;
    // Verifying, every attribute is read as the image showed it on the row's best try (the energy's
    // reading_shift), and continuous ones are held at the verifier's values.
    const torch::Tensor shift =
        verify ? (out.reading.logits - out.reading.verified).index_select(0, index) : torch::Tensor();
    const KeptTargets kept = targets.rows(index);
    const sampling::EditEnergy energy(bundle, psi, conditions, from, stronger, kept.classes, kept.values, shift);
    sampling::SampleResult again;
    try {
      again = sampling::sample_vp_ode(energy, from, retry_options, &progress);
    } catch (const ode::SolverError& e) {
      // Doubled weights on a continuous target can make the ODE too stiff to finish: a try that failed, so
      // its rows keep their earlier ones and no stronger try follows. The first solve's failure still ends the run.
      out.failed_try = e.what();
      break;
    }
    const StepReading again_read = read(again.z, ws_previous.index_select(0, index), kept);
    for (size_t j = 0; j < rows.size(); ++j) {
      const int64_t i = rows[j], r = static_cast<int64_t>(j);
      if (attempt == 1) ++out.retried;
      out.tries[i].first += 1;
      out.nfe[i] += again.stats.nfe[r];
      if (again.stats.stopped.defined() && again.stats.stopped[r].item<bool>()) {
        out.stopped.insert(i);  // short of t = t_end: not a sample, so not a candidate
        continue;
      }
      if (again_read.score[r].item<double>() <= out.reading.score[i].item<double>()) continue;
      out.tries[i].second = attempt;
      out.z[i] = again.z[r];
      out.reading.take_row(i, again_read, r);
    }
  }
  return out;
}

// Rows still below min_p after their tries are polished: choice.polish Adam steps on z (rate kPolishRate, a
// move of at most about that much per coordinate and step) from the row's best try, against the step's
// energy with the bundle's weights read by the verifier on the image (EditEnergy::read_images), the previous
// step still the anchor of the distance regularizers. A row keeps the polished z only where min_p's reading
// (its weakest condition or kept attribute) rises. Why: the latent classifier can read a condition met where
// the image does not show it (the face bundle's NOT smile: latent P 0.94, image 0.15), and doubled weights
// then push further along a direction that does not change the image; the image's gradient goes where it
// changes. Its cost is a synthesis and a verifier pass, forward and back, per step.
constexpr double kPolishRate = 0.02;

void polish_weak_edits(Retried& step, const model::Bundle& bundle, double psi, const std::vector<energy::Energy>& conditions,
                       const KeptTargets& targets, const std::vector<model::Attribute>& attributes,
                       const torch::Tensor& z_previous, const torch::Tensor& ws_previous,
                       const std::vector<int64_t>& layers, const model::EditWeights& weights, const EditChoice& choice) {
  // Rows whose stronger try stopped at its cap are polished too: the polish takes no ODE steps.
  const std::vector<int64_t> rows = rows_below(step.reading, choice.min_p);
  if (rows.empty()) return;
  const auto index = torch::tensor(rows, torch::kLong).to(z_previous.device());
  const KeptTargets kept = targets.rows(index);
  const torch::Tensor ws_rows = ws_previous.index_select(0, index);
  sampling::EditEnergy energy(bundle, psi, conditions, z_previous.index_select(0, index), weights, kept.classes,
                              kept.values);
  energy.read_images(ws_rows, layers);
  torch::Tensor z = step.z.index_select(0, index).detach().clone().requires_grad_(true);
  torch::optim::Adam adam({z}, torch::optim::AdamOptions(kPolishRate));
  for (int64_t it = 0; it < choice.polish; ++it) {
    torch::Tensor gradient = energy.energy_and_gradient(z.detach()).gradient;
    adam.zero_grad();
    z.mutable_grad() = gradient;
    adam.step();
  }
  const StepReading polished =
      read_step(bundle, psi, conditions, kept, attributes, choice.weights.keep_sigma, z.detach(), ws_rows, layers, true);
  for (size_t j = 0; j < rows.size(); ++j) {
    const int64_t i = rows[j], r = static_cast<int64_t>(j);
    if (polished.score[r].item<double>() <= step.reading.score[i].item<double>()) continue;
    step.z[i] = z.detach()[r];
    step.reading.take_row(i, polished, r);
    step.polished.insert(i);
  }
}

}  // namespace

EditChoice resolve_edit_settings(const model::Manifest& manifest, const model::EditSettings& file,
                                 const model::EditSettings& flags) {
  EditChoice c;
  c.truncation = manifest.default_truncation;
  for (const model::EditSettings* s : {&manifest.editing, &file, &flags}) {  // later sources win
    if (s->truncation) c.truncation = *s->truncation;
    if (s->min_p) c.min_p = *s->min_p;
    if (s->tries) c.tries = *s->tries;
    if (s->tolerance) c.tolerance = *s->tolerance;
    if (s->polish) c.polish = *s->polish;
    for (const auto& field : model::edit_weight_fields())
      if (s->*field.setting) c.weights.*field.weight = *(s->*field.setting);
  }
  return c;
}

EditReport run_edit(const EditJob& job, Progress& progress) {
  LapTimer timer;
  check_options(job);
  // Cheap checks first: the sequence file, the manifest, every expression, the output folder.
  const EditSequence seq = read_edit_sequence(job.sequence_file);
  const model::Manifest manifest = model::read_manifest(job.model_dir);
  const EditChoice choice = resolve_edit_settings(manifest, seq.settings, job.overrides);
  const auto attributes = with_tolerance(manifest.attributes, choice.tolerance);
  std::vector<energy::Energy> steps;
  for (size_t k = 0; k < seq.steps.size(); ++k)
    steps.push_back(compile_field(seq, "steps[" + std::to_string(k) + "]", seq.steps[k], attributes));
  // The start's condition is sampled as lace sample does: the bundle's own attributes.
  const energy::Energy start_condition = compile_field(seq, "condition", seq.condition, manifest.attributes);
  const Starts starts = resolve_starts(seq, manifest.generator.z_dim);
  check_verifier(job.verify, manifest, true, job.model_dir);
  io::ensure_writable_dir(job.out_dir);

  const model::EditWeights& weights = choice.weights;
  const double psi = choice.truncation;

  const model::Bundle bundle = model::Bundle::load(job.model_dir, job.device, model::BundleUse::Edit);
  const std::string sha = bundle_hash(bundle);
  EditReport report;
  for (const auto& origin : starts.origin)
    if (origin.contains("model_sha256") && origin["model_sha256"] != sha)
      report.warnings.push_back(origin["image"].get<std::string>() + " was made with another model (sha256 " +
                                origin["model_sha256"].get<std::string>().substr(0, 12) + "...); its z is used as is");

  sampling::VpOdeOptions ode_options = job.ode;
  ode_options.method = job.solver;
  nlohmann::json base;
  base["lace_version"] = LACE_VERSION;
  base["command"] = "edit";
  base["model"] = {{"name", manifest.name}, {"path", job.model_dir.string()}, {"sha256", sha}};
  base["sequence"] = {{"file", job.sequence_file.string()}, {"json", seq.source}};
  for (const auto& field : model::edit_weight_fields()) base["weights"][field.name] = weights.*field.weight;
  base["truncation"] = psi;
  base["sampler"] = sampler_record(job.solver, ode_options);
  base["device"] = job.device.is_cuda() ? "cuda" : "cpu";
  if (choice.min_p > 0) base["min_p"] = choice.min_p;
  if (choice.tolerance > 0) base["tolerance"] = choice.tolerance;
  const bool verify = job.verify.value_or(bundle.has_verifier());
  if (verify) base["verifier"] = bundle.verifier_file().string();
  // The polish reads images, so it runs only verifying, and only on rows min_p finds weak.
  const bool polishing = verify && choice.min_p > 0 && choice.polish > 0;
  if (polishing) base["polish"] = choice.polish;
  report.verified = verify;
  base["reproduce"] = reproduce_command(job, choice, verify);

  const int64_t count = starts.z.size(0), num_steps = static_cast<int64_t>(steps.size());
  const int64_t num_ws = manifest.generator.num_ws;
  io::OutputNamer namer(job.out_dir);
  report.starts = count;
  report.steps = num_steps;
  report.stages.load = timer.lap();
  std::vector<io::Image> sheet;
  progress.begin(count * (num_steps + 1));
  for (int64_t done = 0; done < count;) {
    const int64_t n = std::min(job.batch_size, count - done);
    auto z = starts.z.slice(0, done, done + n).to(job.device);
    progress.batch(done, n);
    if (!start_condition.unconditional()) {
      // As `lace sample --attrs` does, at the bundle's default guidance.
      const sampling::LatentEnergy condition(bundle, start_condition, psi, manifest.default_guidance);
      z = sampling::sample_vp_ode(condition, z, ode_options, &progress).z;
    }
    report.stages.solve += timer.lap();
    torch::Tensor ws, start_logits;
    KeptTargets targets;  // set from the start's image below, then by each step
    {
      torch::NoGradGuard no_grad;
      const auto w = bundle.truncate(bundle.mapping(z), psi);
      ws = bundle.broadcast_ws(w);
      start_logits = bundle.classify(w);
    }
    std::vector<std::vector<io::Image>> strips(n);
    std::vector<std::vector<fs::path>> written(n);
    std::vector<energy::Energy> so_far;
    for (int64_t k = 0; k <= num_steps; ++k) {
      std::vector<int64_t> layers;
      Retried step;  // k > 0: the step's solve, readings and tries
      if (k > 0) {
        so_far = sampling::supersede(so_far, steps[k - 1], attributes);
        layers = sampling::edited_layers(steps[k - 1], manifest.attributes, num_ws);
        // Continuous attributes no condition holds keep their first values (so small drifts do not add up over the
        // steps), discrete ones the class the previous image shows.
        const sampling::EditEnergy energy(bundle, psi, so_far, z, weights, targets.classes, targets.latent_values);
        const auto result = sampling::sample_vp_ode(energy, z, ode_options, &progress);
        step = retry_weak_edits(bundle, psi, so_far, targets, attributes, z, ws, layers, result, weights, choice,
                                verify, ode_options, progress);
        if (polishing)
          polish_weak_edits(step, bundle, psi, so_far, targets, attributes, z, ws, layers, weights, choice);
        report.polished += static_cast<int64_t>(step.polished.size());
        z = step.z;
        const torch::Tensor& reader = verify ? step.reading.verified : step.reading.logits;
        for (const auto& name : steps[k - 1].attribute_names()) {
          const auto* a = manifest.find(name);
          if (a && a->kind == model::AttributeKind::Continuous)
            for (const int64_t c : a->columns) {
              targets.latent_values.select(1, c).copy_(step.reading.logits.select(1, c));
              targets.values.select(1, c).copy_(reader.select(1, c));
            }
        }
        targets.classes = reader;
        report.retried += step.retried;
        if (!step.failed_try.empty())
          report.warnings.push_back("step " + std::to_string(k) + ": a --min-p retry could not finish (" +
                                    step.failed_try + "); its starts keep their earlier try");
        if (!step.stopped.empty())
          report.warnings.push_back("step " + std::to_string(k) + ": " + std::to_string(step.stopped.size()) +
                                    " start(s)' --min-p retry stopped at its step cap (4x the steps of the start's first solve, " +
                                    "at most --max-steps: stiff); they keep their earlier try");
        report.below_min_p += static_cast<int64_t>(rows_below(step.reading, choice.min_p).size());
        report.stages.solve += timer.lap();
      }
      torch::NoGradGuard no_grad;
      if (k > 0) ws = step.reading.ws;
      const torch::Tensor logits = k > 0 ? step.reading.logits : start_logits;
      torch::Tensor images;
      if (k > 0 && verify) {  // read_step drew and verified them
        images = step.reading.images;
      } else {
        const auto drawn = bundle.synthesis(ws);
        images = drawn.to(torch::kCPU);
        if (k == 0) {  // the start, as the first step will hold it
          targets.classes = verify ? bundle.verify(drawn) : start_logits;
          targets.values = targets.classes.clone();
          targets.latent_values = start_logits.clone();
        }
      }
      const auto ws_cpu = ws.to(torch::kCPU);
      report.stages.synthesis += timer.lap();
      std::vector<io::Image> step_images;
      std::vector<nlohmann::json> records;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t index = done + i;
        nlohmann::json record = base;
        record["index"] = index;
        record["start"] = starts.origin[index];
        if (!seq.condition.empty()) record["start"]["condition"] = start_condition.canonical();
        record["step"] = k;
        record["expression"] = k > 0 ? seq.steps[k - 1] : "";
        record["canonical"] = k > 0 ? steps[k - 1].canonical() : "";
        record["conditions"] = nlohmann::json::array();  // what the step's energy asked, earlier steps first
        if (k > 0)
          for (const auto& c : so_far) record["conditions"].push_back(c.canonical());
        record["layers"] = layers;
        record["stats"] = {{"nfe", k > 0 ? step.nfe[i].item<int64_t>() : 0}};
        if (k > 0) {
          record["p"] = step.reading.p[i].item<double>();
          if (verify) record["p_image"] = step.reading.p_image[i].item<double>();
          record["p_conditions"] = nlohmann::json::array();  // as min_p reads each of `conditions`
          for (int64_t c = 0; c < step.reading.each.size(1); ++c)
            record["p_conditions"].push_back(step.reading.each[i][c].item<double>());
          record["p_kept"] = nlohmann::json::object();  // ... and each attribute no condition names
          const auto& names = step.reading.kept_names;
          for (size_t c = 0; c < names.size(); ++c)
            record["p_kept"][names[c]] = step.reading.kept[i][static_cast<int64_t>(c)].item<double>();
          if (choice.min_p > 0) record["tries"] = {{"solved", step.tries[i].first}, {"kept", step.tries[i].second}};
          if (polishing) record["tries"]["polished"] = step.polished.count(i) > 0;
        }
        record["attributes"] = attribute_readings(manifest, logits[i]);
        record["z"] = tensor_to_json(z[i].to(torch::kCPU));
        nlohmann::json ws_json = nlohmann::json::array();
        for (int64_t l = 0; l < num_ws; ++l) ws_json.push_back(tensor_to_json(ws_cpu[i][l]));
        record["ws"] = std::move(ws_json);
        step_images.push_back(io::image_from_tensor(images[i]));
        records.push_back(std::move(record));
      }
      const auto encoded = io::encode_images_with_records(step_images, records);
      for (int64_t i = 0; i < n; ++i) {
        const bool first = report.images.empty() && k == 0 && i == 0;
        written[i].push_back(write_image_and_record(namer, done + i, encoded[i], first, "step" + std::to_string(k)));
        progress.written(written[i].back());
        strips[i].push_back(std::move(step_images[i]));
      }
      report.stages.writing += timer.lap();
    }
    for (int64_t i = 0; i < n; ++i) {
      report.images.insert(report.images.end(), written[i].begin(), written[i].end());
      report.strips.push_back(namer.image(done + i, "strip"));
      io::write_file_atomic(report.strips.back(), io::encode_png(io::contact_sheet(strips[i], num_steps + 1)));
      sheet.insert(sheet.end(), strips[i].begin(), strips[i].end());
    }
    done += n;
    report.stages.writing += timer.lap();
  }
  report.sheet = namer.run_file("sheet.png");
  io::write_file_atomic(report.sheet, io::encode_png(io::contact_sheet(sheet, static_cast<int>(num_steps + 1))));
  report.stages.writing += timer.lap();
  progress.end();
  report.seconds = timer.since_start();
  return report;
}

}  // namespace lace::jobs
