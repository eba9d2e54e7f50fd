#pragma once
// What a long job tells whoever watches it. The default does nothing; the CLI draws a bar.

#include <cstdint>
#include <filesystem>

#include "lace/ode/observer.hpp"

namespace lace::jobs {

class Progress : public ode::Observer {
 public:
  virtual void begin(int64_t /*total_images*/) {}
  virtual void batch(int64_t /*first*/, int64_t /*count*/) {}
  void on_step(const ode::StepEvent& /*event*/) override {}
  virtual void written(const std::filesystem::path& /*image*/) {}
  virtual void end() {}
};

}  // namespace lace::jobs
