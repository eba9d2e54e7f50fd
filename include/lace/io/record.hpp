#pragma once
// A record says what made an image (model, seed, settings, latent z ...). It travels twice:
// inside the PNG as an iTXt chunk with keyword "lace" (compact JSON), so it survives the file
// being copied or renamed alone, and as a pretty JSON sidecar next to it, for people and tools.
//
// Floats round-trip exactly: a float32 converted to double is exact, nlohmann::json writes a
// double with the shortest text that reads back as the same double, and that double converts
// back to the same float32. So float -> double -> text -> double -> float is the identity for
// every finite float (NaN and infinities have no JSON form: float_array rejects them).

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lace/io/image.hpp"

namespace lace::io {

inline constexpr const char* kRecordKeyword = "lace";

// An image and its record, encoded and ready for the disk: the PNG (record.dump() in an iTXt "lace"
// chunk) and the sidecar's text (record.dump(2) plus a newline).
struct EncodedRecord {
  std::vector<uint8_t> png;
  std::string sidecar;
};

// Serialises and encodes everything before anything touches the disk: a record that cannot be
// written (invalid UTF-8) never leaves an image behind. Throws std::invalid_argument for a bad image.
EncodedRecord encode_image_with_record(const Image& image, const nlohmann::json& record);

// encode_image_with_record for each pair, on up to `threads` threads (0: one per core); results in
// input order, identical to encoding one by one. PNG encoding is the one costly step of writing (half
// a second per 1024x1024 image on one core: docs/benchmarks.md). Rethrows the failure of the lowest
// index, after every thread has finished. Throws std::invalid_argument if the sizes differ.
std::vector<EncodedRecord> encode_images_with_records(const std::vector<Image>& images,
                                                      const std::vector<nlohmann::json>& records,
                                                      unsigned threads = 0);

// Writes `png`, then `sidecar`, both with write_file_atomic. If the sidecar cannot be written the
// PNG is removed again, so an image never exists without its sidecar. Throws OutputError (either
// file exists, cannot write).
void write_encoded_record(const std::filesystem::path& png, const std::filesystem::path& sidecar,
                          const EncodedRecord& encoded);

// encode_image_with_record, then write_encoded_record.
void write_image_with_record(const std::filesystem::path& png,
                             const std::filesystem::path& sidecar, const Image& image,
                             const nlohmann::json& record);

// The record from the PNG's "lace" chunk. Throws OutputError: "'x.png' holds no lace record"
// if there is none, "'x.png' holds a broken lace record: ..." if it is not valid JSON, or
// read_png_text's error if the file cannot be read as a PNG.
nlohmann::json read_record(const std::filesystem::path& png);

// z and other float32 data as a JSON array of numbers (each float converted to double).
// Throws std::invalid_argument on NaN or infinity.
nlohmann::json float_array(const std::vector<float>& values);
// Back to float32; throws std::invalid_argument unless `array` is an array of numbers.
std::vector<float> floats_from_json(const nlohmann::json& array);

}  // namespace lace::io
