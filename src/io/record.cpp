#include "lace/io/record.hpp"

#include <cmath>
#include <stdexcept>
#include <system_error>

#include "lace/io/error.hpp"
#include "lace/io/files.hpp"
#include "lace/io/png.hpp"

namespace lace::io {

void write_image_with_record(const std::filesystem::path& png,
                             const std::filesystem::path& sidecar, const Image& image,
                             const nlohmann::json& record) {
  // Serialise and encode everything before touching the disk: a record that cannot be
  // written (invalid UTF-8) must not leave an image behind.
  const std::vector<uint8_t> png_bytes = encode_png(image, {{kRecordKeyword, record.dump()}});
  const std::string pretty = record.dump(2) + "\n";

  write_file_atomic(png, png_bytes);
  try {
    write_file_atomic(sidecar, std::vector<uint8_t>(pretty.begin(), pretty.end()));
  } catch (...) {
    // An image without its sidecar would look like a complete output; take it back.
    std::error_code ignored;
    std::filesystem::remove(png, ignored);
    throw;
  }
}

nlohmann::json read_record(const std::filesystem::path& png) {
  const std::optional<std::string> text = read_png_text(png, kRecordKeyword);
  if (!text) throw OutputError("'" + png.string() + "' holds no lace record");
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::parse_error& e) {
    throw OutputError("'" + png.string() + "' holds a broken lace record: " + e.what());
  }
}

nlohmann::json float_array(const std::vector<float>& values) {
  nlohmann::json array = nlohmann::json::array();
  for (float v : values) {
    if (!std::isfinite(v)) throw std::invalid_argument("float_array: NaN or infinity has no JSON form");
    array.push_back(static_cast<double>(v));  // exact; see record.hpp
  }
  return array;
}

std::vector<float> floats_from_json(const nlohmann::json& array) {
  if (!array.is_array()) throw std::invalid_argument("floats_from_json: not an array");
  std::vector<float> values;
  values.reserve(array.size());
  for (const nlohmann::json& v : array) {
    if (!v.is_number()) throw std::invalid_argument("floats_from_json: not a number");
    values.push_back(static_cast<float>(v.get<double>()));
  }
  return values;
}

}  // namespace lace::io
