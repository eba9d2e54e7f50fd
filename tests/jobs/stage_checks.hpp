#pragma once
// Shared by the sample and edit job tests: every stage took time, and together they account for the
// whole run (nothing counted twice or missed).

#include <gtest/gtest.h>

#include "lace/jobs/stages.hpp"

inline void expect_stages_account_for_the_run(const lace::jobs::StageSeconds& st, double seconds) {
  EXPECT_GT(st.load, 0);
  EXPECT_GT(st.solve, 0);
  EXPECT_GT(st.synthesis, 0);
  EXPECT_GT(st.writing, 0);
  EXPECT_NEAR(st.total(), seconds, 0.02 * seconds + 1e-3);
}
