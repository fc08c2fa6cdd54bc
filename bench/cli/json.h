#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sonic::cli {

// Just enough JSON writing for `--json` output (fmt only, no JSON library dependency). Values are
// written as they are added; a non-finite double becomes null, since JSON has no NaN or inf.

// `text` as a JSON string literal, quotes included, with control characters, quotes and
// backslashes escaped. Bytes >= 0x80 pass through (the input is UTF-8).
std::string JsonQuote(std::string_view text);

class JsonArray;

class JsonObject {
 public:
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value);  // else it would bind to bool
  JsonObject& Add(std::string_view key, const std::string& value);
  JsonObject& Add(std::string_view key, bool value);
  JsonObject& Add(std::string_view key, int value);
  JsonObject& Add(std::string_view key, std::int64_t value);
  JsonObject& Add(std::string_view key, double value);
  JsonObject& Add(std::string_view key, const JsonObject& value);
  JsonObject& Add(std::string_view key, const JsonArray& value);
  JsonObject& AddNull(std::string_view key);

  std::string str() const { return "{" + body_ + "}"; }

 private:
  JsonObject& AddRaw(std::string_view key, std::string_view json);
  std::string body_;
};

class JsonArray {
 public:
  JsonArray& Append(std::string_view value);
  JsonArray& Append(std::int64_t value);
  JsonArray& Append(double value);
  JsonArray& Append(const JsonObject& value);

  std::string str() const { return "[" + body_ + "]"; }

 private:
  JsonArray& AppendRaw(std::string_view json);
  std::string body_;
};

}  // namespace sonic::cli
