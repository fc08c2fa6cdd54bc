#include "bench/cli/json.h"

#include <fmt/format.h>

#include <cmath>

namespace sonic::cli {
namespace {

std::string JsonNumber(double value) {
  return std::isfinite(value) ? fmt::format("{}", value) : std::string("null");
}

}  // namespace

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

JsonObject& JsonObject::AddRaw(std::string_view key, std::string_view json) {
  if (!body_.empty()) body_ += ',';
  body_ += JsonQuote(key);
  body_ += ':';
  body_ += json;
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, std::string_view value) {
  return AddRaw(key, JsonQuote(value));
}
JsonObject& JsonObject::Add(std::string_view key, const char* value) {
  return AddRaw(key, JsonQuote(value));
}
JsonObject& JsonObject::Add(std::string_view key, const std::string& value) {
  return AddRaw(key, JsonQuote(value));
}
JsonObject& JsonObject::Add(std::string_view key, bool value) {
  return AddRaw(key, value ? "true" : "false");
}
JsonObject& JsonObject::Add(std::string_view key, int value) {
  return AddRaw(key, fmt::format("{}", value));
}
JsonObject& JsonObject::Add(std::string_view key, std::int64_t value) {
  return AddRaw(key, fmt::format("{}", value));
}
JsonObject& JsonObject::Add(std::string_view key, double value) {
  return AddRaw(key, JsonNumber(value));
}
JsonObject& JsonObject::Add(std::string_view key, const JsonObject& value) {
  return AddRaw(key, value.str());
}
JsonObject& JsonObject::Add(std::string_view key, const JsonArray& value) {
  return AddRaw(key, value.str());
}
JsonObject& JsonObject::AddNull(std::string_view key) { return AddRaw(key, "null"); }

JsonArray& JsonArray::AppendRaw(std::string_view json) {
  if (!body_.empty()) body_ += ',';
  body_ += json;
  return *this;
}

JsonArray& JsonArray::Append(std::string_view value) { return AppendRaw(JsonQuote(value)); }
JsonArray& JsonArray::Append(std::int64_t value) { return AppendRaw(fmt::format("{}", value)); }
JsonArray& JsonArray::Append(double value) { return AppendRaw(JsonNumber(value)); }
JsonArray& JsonArray::Append(const JsonObject& value) { return AppendRaw(value.str()); }

}  // namespace sonic::cli
