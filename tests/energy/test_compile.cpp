// compile(): resolution against the attributes, error messages, canonical text, the Energy's
// bookkeeping and its input checks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lace/energy/energy.hpp"

using namespace lace::energy;

namespace lace_test {
std::vector<lace::model::Attribute> attributes();
}

namespace {

Energy make(const std::string& text, Operators ops = Operators::Exact) {
  return compile(text, lace_test::attributes(), ops);
}

// The ExpressionError message the text raises ("" if it compiles).
std::string meaning_error(const std::string& text) {
  try {
    make(text);
  } catch (const ExpressionError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Compile, ErrorsListWhatIsKnown) {
  EXPECT_EQ(meaning_error("smle"), "unknown attribute 'smle'; known attributes: smile, glasses, hair, age");
  EXPECT_EQ(meaning_error("smile AND hair=pink"),
            "unknown class 'pink' for attribute 'hair'; known classes: black, blonde, red");
  EXPECT_EQ(meaning_error("age=1.7"), "age=1.7 is outside its range [0, 1]");
  EXPECT_EQ(meaning_error("age=-0.5"), "age=-0.5 is outside its range [0, 1]");
  EXPECT_EQ(meaning_error("hair"), "attribute 'hair' is categorical: write hair=<class> (black, blonde, red)");
  EXPECT_EQ(meaning_error("age"), "attribute 'age' is continuous: write age=<value> with a value in [0, 1]");
  EXPECT_EQ(meaning_error("age=old"), "attribute 'age' is continuous: write age=<value> with a value in [0, 1]");
  EXPECT_EQ(meaning_error("smile=2"), "'smile=2': binary attribute 'smile' takes 1, 0, true or false (or no value, meaning 1)");
  EXPECT_EQ(meaning_error("smile=yes"),
            "'smile=yes': binary attribute 'smile' takes 1, 0, true or false (or no value, meaning 1)");
  // Attribute names are case-sensitive; keywords are not.
  EXPECT_EQ(meaning_error("sMiLe and not Glasses"),
            "unknown attribute 'sMiLe'; known attributes: smile, glasses, hair, age");
  EXPECT_EQ(meaning_error("smile and not glasses"), "");
  // The error points at the term.
  try {
    make("smile AND hair=pink");
    FAIL() << "no error";
  } catch (const ExpressionError& e) {
    EXPECT_EQ(e.column, 11);
  }
  // No attributes at all.
  EXPECT_THROW(compile("smile", {}), ExpressionError);
}

TEST(Compile, ParseErrorsPassThrough) {
  EXPECT_THROW(make("smile AND"), ParseError);
  EXPECT_THROW(make("(smile"), ParseError);
  // Syntax is checked before meaning: "smle AND" is a parse error, not an unknown attribute.
  EXPECT_THROW(make("smle AND"), ParseError);
}

TEST(Compile, CanonicalText) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"smile", "smile"},
      {"smile=1", "smile"},
      {"smile=TRUE", "smile"},
      {"smile=0", "smile=0"},
      {"smile=false", "smile=0"},
      {"smile=0.0", "smile=0"},
      {"hair = blonde", "hair=blonde"},
      {"age=0.70", "age=0.7"},
      {"age=1", "age=1"},
      {"not not smile", "smile"},
      {"NOT NOT NOT smile", "NOT smile"},
      {"NOT (NOT (smile AND glasses))", "smile AND glasses"},
      {"(smile AND glasses) and not hair=red", "(smile AND glasses) AND NOT hair=red"},
      {"smile or glasses and age=0.2", "smile OR (glasses AND age=0.2)"},
      {"smile and (glasses) and not not hair = red", "smile AND glasses AND hair=red"},  // docs/expressions.md
      {"smile or glasses and age=.50", "smile OR (glasses AND age=0.5)"},
      {"2*smile=true AND 0.5*(glasses OR NOT hair=black)", "2*smile AND 0.5*(glasses OR NOT hair=black)"},
  };
  for (const auto& [text, expected] : cases) {
    const auto e = make(text);
    EXPECT_EQ(e.canonical(), expected) << text;
    // The canonical text compiles to the same canonical text.
    EXPECT_EQ(make(e.canonical()).canonical(), expected) << text;
  }
}

TEST(Compile, AttributeNamesInOrderOfFirstUse) {
  const auto e = make("age=0.5 OR smile AND age=0.2 OR NOT hair=red AND smile=0");
  EXPECT_EQ(e.attribute_names(), (std::vector<std::string>{"age", "smile", "hair"}));
  EXPECT_TRUE(make("").attribute_names().empty());
}

TEST(Compile, Unconditional) {
  for (const auto& text : {"", "   "}) {
    const auto e = make(text);
    EXPECT_TRUE(e.unconditional());
    EXPECT_EQ(e.canonical(), "");
    EXPECT_EQ(e.expression(), nullptr);
    auto logits = torch::randn({3, 6}, torch::kFloat64).requires_grad_(true);
    const auto energy = e(logits);
    ASSERT_EQ(energy.sizes(), (std::vector<int64_t>{3}));
    EXPECT_EQ(energy.abs().max().item<double>(), 0.0);
    // Differentiating through it works and gives zeros, even with infinite logits around.
    const auto grad = torch::autograd::grad({energy.sum()}, {logits})[0];
    EXPECT_EQ(grad.abs().max().item<double>(), 0.0);
    EXPECT_EQ(e(torch::full({2, 6}, INFINITY)).abs().max().item<double>(), 0.0);
  }
  EXPECT_TRUE(Energy().unconditional());
  EXPECT_FALSE(make("smile").unconditional());
}

TEST(Compile, OperatorsNames) {
  EXPECT_STREQ(to_string(Operators::Exact), "exact");
  EXPECT_STREQ(to_string(Operators::Lace), "lace");
  EXPECT_EQ(operators_from_string("exact"), Operators::Exact);
  EXPECT_EQ(operators_from_string("lace"), Operators::Lace);
  EXPECT_EQ(operators_from_string("LACE"), Operators::Lace);
  EXPECT_THROW(operators_from_string("fuzzy"), std::invalid_argument);
  EXPECT_THROW(operators_from_string(""), std::invalid_argument);
  EXPECT_EQ(make("smile", Operators::Lace).operators(), Operators::Lace);
  EXPECT_EQ(make("smile").operators(), Operators::Exact);
}

TEST(Compile, ChecksLogits) {
  const auto e = make("smile AND age=0.5");
  EXPECT_THROW(e(torch::zeros({2, 5})), std::invalid_argument);   // age is column 5
  EXPECT_THROW(e(torch::zeros({6})), std::invalid_argument);      // not [B, N]
  EXPECT_THROW(e(torch::zeros({2, 6}, torch::kLong)), std::invalid_argument);
  EXPECT_THROW(e(torch::Tensor()), std::invalid_argument);
  EXPECT_NO_THROW(e(torch::zeros({2, 6})));
  EXPECT_NO_THROW(make("smile")(torch::zeros({2, 1})));  // only the columns used are needed
}

TEST(Compile, DtypesAndCopies) {
  const auto e = make("smile AND NOT hair=red OR age=0.3");
  const auto logits = torch::randn({4, 6}, torch::kFloat64);
  const auto ref = e(logits);
  EXPECT_EQ(ref.scalar_type(), torch::kFloat64);
  const auto f32 = e(logits.to(torch::kFloat32));
  EXPECT_EQ(f32.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(f32.to(torch::kFloat64), ref, 1e-5, 1e-5));
  const auto half = e(logits.to(torch::kHalf));
  EXPECT_EQ(half.scalar_type(), torch::kFloat32);  // computed in float32
  EXPECT_TRUE(torch::allclose(half.to(torch::kFloat64), ref, 1e-2, 1e-2));
  // Energy is a value: copies evaluate the same.
  const Energy copy = e;
  EXPECT_TRUE(torch::equal(copy(logits), ref));
  EXPECT_EQ(copy.canonical(), e.canonical());
  // Non-contiguous logits are fine.
  const auto wide = torch::randn({6, 4}, torch::kFloat64).t();
  EXPECT_TRUE(torch::allclose(e(wide), e(wide.contiguous())));
}
