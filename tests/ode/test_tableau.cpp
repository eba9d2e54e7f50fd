// The tableaus are consistent, the registry knows them by name, and the controller follows its formula.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "lace/ode/controller.hpp"
#include "lace/ode/error_norm.hpp"
#include "lace/ode/tableau.hpp"

using namespace lace::ode;

namespace {
double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
}  // namespace

TEST(Tableau, RegistryListsTheFourMethods) {
  EXPECT_EQ(tableau_names(), (std::vector<std::string>{"dopri5", "euler", "heun", "rk4"}));
  EXPECT_EQ(&tableau_by_name("dopri5"), &dopri5());
  EXPECT_EQ(&tableau_by_name("rk4"), &rk4());
}

TEST(Tableau, UnknownNameSaysWhatIsKnown) {
  try {
    tableau_by_name("x");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown solver 'x'; known: dopri5, euler, heun, rk4");
  }
}

TEST(Tableau, EveryTableauIsConsistent) {
  for (const auto& name : tableau_names()) {
    SCOPED_TRACE(name);
    const Tableau& t = tableau_by_name(name);
    EXPECT_EQ(t.name, name);
    EXPECT_NO_THROW(validate_tableau(t));
    ASSERT_EQ(t.a.size(), t.c.size());
    ASSERT_EQ(t.b.size(), t.c.size());
    for (size_t i = 0; i < t.c.size(); ++i) {
      ASSERT_EQ(t.a[i].size(), i);
      EXPECT_NEAR(sum(t.a[i]), t.c[i], 1e-14) << "row " << i;
    }
    EXPECT_NEAR(sum(t.b), 1.0, 1e-14);
    if (t.adaptive()) {
      ASSERT_EQ(t.b_error.size(), t.c.size());
      EXPECT_NEAR(sum(t.b_error), 0.0, 1e-14);
      EXPECT_GT(t.embedded_order, 0);
    } else {
      EXPECT_EQ(t.embedded_order, 0);
    }
  }
}

TEST(Tableau, KnownProperties) {
  EXPECT_EQ(dopri5().order, 5);
  EXPECT_EQ(dopri5().embedded_order, 4);
  EXPECT_EQ(dopri5().stages(), 7);
  EXPECT_TRUE(dopri5().fsal);
  EXPECT_TRUE(dopri5().adaptive());
  EXPECT_EQ(euler().order, 1);
  EXPECT_EQ(heun().order, 2);
  EXPECT_EQ(rk4().order, 4);
  for (const Tableau* t : {&euler(), &heun(), &rk4()}) {
    EXPECT_FALSE(t->adaptive());
    EXPECT_FALSE(t->fsal);
  }
  // The 5th-order weights satisfy the quadrature conditions sum b_i c_i^(k-1) = 1/k up to k = 5.
  for (int k = 1; k <= 5; ++k) {
    double s = 0;
    for (size_t i = 0; i < dopri5().b.size(); ++i) s += dopri5().b[i] * std::pow(dopri5().c[i], k - 1);
    EXPECT_NEAR(s, 1.0 / k, 1e-14) << "k = " << k;
  }
}

TEST(Tableau, ValidationRejectsBrokenTableaus) {
  Tableau bad = heun();
  bad.b = {0.5, 0.4};
  EXPECT_THROW(validate_tableau(bad), std::invalid_argument);
  bad = heun();
  bad.a = {{}, {0.9}};
  EXPECT_THROW(validate_tableau(bad), std::invalid_argument);
  bad = dopri5();
  bad.b_error[0] += 1e-3;
  EXPECT_THROW(validate_tableau(bad), std::invalid_argument);
  bad = heun();
  bad.fsal = true;  // heun's last stage is at y + h k0, not at y1
  EXPECT_THROW(validate_tableau(bad), std::invalid_argument);
}

TEST(Controller, IntegralControllerFormula) {
  const IntegralController c{0.9, 0.2, 10.0, 4};
  EXPECT_TRUE(c.accept(1.0));
  EXPECT_TRUE(c.accept(0.0));
  EXPECT_FALSE(c.accept(1.0001));
  EXPECT_FALSE(c.accept(std::nan("")));
  EXPECT_FALSE(c.accept(INFINITY));
  EXPECT_DOUBLE_EQ(c.factor(1.0, false), 0.9);
  EXPECT_DOUBLE_EQ(c.factor(0.5, false), 0.9 * std::pow(0.5, -0.2));
  EXPECT_DOUBLE_EQ(c.factor(4.0, false), 0.9 * std::pow(4.0, -0.2));
  EXPECT_DOUBLE_EQ(c.factor(1e-12, false), 10.0);  // clamped to max_factor
  EXPECT_DOUBLE_EQ(c.factor(0.0, false), 10.0);
  EXPECT_DOUBLE_EQ(c.factor(1e12, false), 0.2);  // clamped to min_factor
  EXPECT_DOUBLE_EQ(c.factor(std::nan(""), false), 0.2);
  EXPECT_DOUBLE_EQ(c.factor(0.01, true), 1.0);  // no growth right after a rejection
  EXPECT_DOUBLE_EQ(c.factor(4.0, true), 0.9 * std::pow(4.0, -0.2));
}

TEST(Controller, ConstantStepsEndExactlyAtT1) {
  const ConstantSteps grid{1.0, 1e-3, 7};
  EXPECT_EQ(grid.time(0), 1.0);
  EXPECT_EQ(grid.time(7), 1e-3);
  for (int i = 0; i < 7; ++i) EXPECT_LT(grid.time(i + 1), grid.time(i));
  EXPECT_NEAR(grid.time(1) - grid.time(0), (1e-3 - 1.0) / 7, 1e-15);
}

TEST(ErrorNorm, Names) {
  EXPECT_EQ(error_norm_by_name("per-sample"), ErrorNorm::PerSample);
  EXPECT_EQ(error_norm_by_name("batch"), ErrorNorm::Batch);
  EXPECT_EQ(error_norm_name(ErrorNorm::Batch), "batch");
  EXPECT_THROW(error_norm_by_name("rows"), std::invalid_argument);
}
