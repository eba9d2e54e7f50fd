#include "lace/io/record.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "lace/io/error.hpp"
#include "lace/io/files.hpp"
#include "lace/io/png.hpp"

namespace lace::io {

EncodedRecord encode_image_with_record(const Image& image, const nlohmann::json& record) {
  return {encode_png(image, {{kRecordKeyword, record.dump()}}), record.dump(2) + "\n"};
}

std::vector<EncodedRecord> encode_images_with_records(const std::vector<Image>& images,
                                                      const std::vector<nlohmann::json>& records,
                                                      unsigned threads) {
  if (images.size() != records.size())
    throw std::invalid_argument("encode_images_with_records: " + std::to_string(images.size()) + " images but " +
                                std::to_string(records.size()) + " records");
  const size_t n = images.size();
  std::vector<EncodedRecord> out(n);
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  const auto work = [&] {  // each worker takes the next unclaimed index until none is left
    for (size_t i = next++; i < n; i = next++) {
      try {
        out[i] = encode_image_with_record(images[i], records[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  try {
    for (size_t t = 1; t < std::min<size_t>(threads, n); ++t) pool.emplace_back(work);
  } catch (const std::system_error&) {
    // No more threads to be had (a process limit): the ones started and this one share the work.
  }
  work();  // this thread works too
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

void write_encoded_record(const std::filesystem::path& png, const std::filesystem::path& sidecar,
                          const EncodedRecord& encoded) {
  write_file_atomic(png, encoded.png);
  try {
    write_file_atomic(sidecar, std::vector<uint8_t>(encoded.sidecar.begin(), encoded.sidecar.end()));
  } catch (...) {
    // An image without its sidecar would look like a complete output; take it back.
    std::error_code ignored;
    std::filesystem::remove(png, ignored);
    throw;
  }
}

void write_image_with_record(const std::filesystem::path& png,
                             const std::filesystem::path& sidecar, const Image& image,
                             const nlohmann::json& record) {
  write_encoded_record(png, sidecar, encode_image_with_record(image, record));
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
