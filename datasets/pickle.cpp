#include "datasets/pickle.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "core/error.h"

namespace sonic {
namespace {

void AppendUtf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

[[noreturn]] void Malformed(std::string_view why) {
  Throw(ErrorKind::kInvalidArgument, "malformed pandas metadata pickle: {}", why);
}

std::uint32_t ParseHex(std::string_view digits) {
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  if (ec != std::errc() || end != digits.data() + digits.size()) Malformed("bad \\u escape");
  return value;
}

// Python's raw-unicode-escape: \uXXXX and \UXXXXXXXX escapes, every other byte is a Latin-1
// code point.
std::string DecodeRawUnicodeEscape(std::string_view line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto byte = static_cast<unsigned char>(line[i]);
    if (byte == '\\' && i + 1 < line.size() && (line[i + 1] == 'u' || line[i + 1] == 'U')) {
      const std::size_t digits = line[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + digits > line.size()) Malformed("short \\u escape");
      AppendUtf8(out, ParseHex(line.substr(i + 2, digits)));
      i += 1 + digits;
    } else {
      AppendUtf8(out, byte);
    }
  }
  return out;
}

// Python 2 str repr as written by the STRING opcode: quoted, with backslash escapes.
std::string DecodeQuotedString(std::string_view line) {
  if (line.size() < 2 || (line.front() != '\'' && line.front() != '"') ||
      line.back() != line.front()) {
    Malformed("unquoted STRING");
  }
  const std::string_view body = line.substr(1, line.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char escaped = body[++i];
    switch (escaped) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'x':
        if (i + 2 >= body.size()) Malformed("short \\x escape");
        out += static_cast<char>(ParseHex(body.substr(i + 1, 2)));
        i += 2;
        break;
      default:
        out += escaped;  // \\, \', \"
    }
  }
  return out;
}

std::string EncodeRawUnicodeEscape(std::string_view utf8) {
  // Decodes UTF-8 to code points and writes them as Python's raw-unicode-escape does: code
  // points up to U+00FF as one Latin-1 byte, beyond as \uXXXX; backslash and newline escaped so
  // the line format survives.
  std::string out;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto byte = static_cast<unsigned char>(utf8[i]);
    std::uint32_t code_point = byte;
    std::size_t length = 1;
    if (byte >= 0xF0) {
      code_point = byte & 0x07;
      length = 4;
    } else if (byte >= 0xE0) {
      code_point = byte & 0x0F;
      length = 3;
    } else if (byte >= 0xC0) {
      code_point = byte & 0x1F;
      length = 2;
    }
    if (i + length > utf8.size()) Throw(ErrorKind::kInvalidArgument, "invalid UTF-8 in a name");
    for (std::size_t k = 1; k < length; ++k) {
      code_point = (code_point << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += length;
    if (code_point == '\\' || code_point == '\n' || code_point >= 0x100) {
      out += code_point > 0xFFFF ? fmt::format("\\U{:08x}", code_point)
                                 : fmt::format("\\u{:04x}", code_point);
    } else {
      out += static_cast<char>(code_point);  // ASCII, or a Latin-1 byte as Python writes it
    }
  }
  return out;
}

}  // namespace

PickleValue Unpickle(std::string_view data) {
  // Each stack entry is a value or a MARK (items collected until the matching LIST/TUPLE/DICT).
  struct Entry {
    bool mark = false;
    PickleValue value;
  };
  std::vector<Entry> stack;
  std::map<std::int64_t, PickleValue> memo;
  std::size_t pos = 0;
  auto read_line = [&]() -> std::string_view {
    const std::size_t end = data.find('\n', pos);
    if (end == std::string_view::npos) Malformed("unterminated line");
    const std::string_view line = data.substr(pos, end - pos);
    pos = end + 1;
    return line;
  };
  auto parse_int = [&](std::string_view digits) {
    if (!digits.empty() && digits.back() == 'L') digits.remove_suffix(1);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) Malformed("bad integer");
    return value;
  };
  auto pop = [&]() {
    if (stack.empty() || stack.back().mark) Malformed("stack underflow");
    PickleValue value = std::move(stack.back().value);
    stack.pop_back();
    return value;
  };
  auto pop_to_mark = [&]() {
    std::vector<PickleValue> items;
    while (!stack.empty() && !stack.back().mark) items.insert(items.begin(), pop());
    if (stack.empty()) Malformed("missing MARK");
    stack.pop_back();
    return items;
  };
  auto push = [&](PickleValue value) { stack.push_back({false, std::move(value)}); };
  auto top = [&]() -> PickleValue& {
    if (stack.empty() || stack.back().mark) Malformed("stack underflow");
    return stack.back().value;
  };
  while (pos < data.size()) {
    const char opcode = data[pos++];
    switch (opcode) {
      case '(':
        stack.push_back({true, {}});
        break;
      case 'l':
      case 't':
      case 'd': {
        PickleValue value;
        value.type = opcode == 'l'   ? PickleValue::Type::kList
                     : opcode == 't' ? PickleValue::Type::kTuple
                                     : PickleValue::Type::kDict;
        value.items = pop_to_mark();
        push(std::move(value));
        break;
      }
      case ']':
        push({PickleValue::Type::kList, 0, {}, {}});
        break;
      case ')':
        push({PickleValue::Type::kTuple, 0, {}, {}});
        break;
      case '}':
        push({PickleValue::Type::kDict, 0, {}, {}});
        break;
      case 'N':
        push({});
        break;
      case 'I':
      case 'L':
        push({PickleValue::Type::kInt, parse_int(read_line()), {}, {}});
        break;
      case 'V':
        push({PickleValue::Type::kString, 0, DecodeRawUnicodeEscape(read_line()), {}});
        break;
      case 'S':
        push({PickleValue::Type::kString, 0, DecodeQuotedString(read_line()), {}});
        break;
      case 'p':
        memo[parse_int(read_line())] = top();
        break;
      case 'g': {
        const auto found = memo.find(parse_int(read_line()));
        if (found == memo.end()) Malformed("GET of an unknown memo entry");
        push(found->second);
        break;
      }
      case 'a': {
        PickleValue item = pop();
        if (top().type != PickleValue::Type::kList) Malformed("APPEND to a non-list");
        top().items.push_back(std::move(item));
        break;
      }
      case 'e': {
        std::vector<PickleValue> items = pop_to_mark();
        if (top().type != PickleValue::Type::kList) Malformed("APPENDS to a non-list");
        for (auto& item : items) top().items.push_back(std::move(item));
        break;
      }
      case 's': {
        PickleValue value = pop();
        PickleValue key = pop();
        if (top().type != PickleValue::Type::kDict) Malformed("SETITEM on a non-dict");
        top().items.push_back(std::move(key));
        top().items.push_back(std::move(value));
        break;
      }
      case '.':
        if (stack.size() != 1 || stack.back().mark) Malformed("STOP with an unbalanced stack");
        return pop();
      default:
        Malformed(fmt::format("opcode '{}' outside protocol 0 lists/dicts/strings", opcode));
    }
  }
  Malformed("no STOP opcode");
}

Pickler& Pickler::BeginList() {
  out_ += "(l";
  Put();
  return *this;
}

Pickler& Pickler::BeginDict() {
  out_ += "(d";
  Put();
  return *this;
}

Pickler& Pickler::Mark() {
  out_ += '(';
  return *this;
}

Pickler& Pickler::EndTuple() {
  out_ += 't';
  Put();
  return *this;
}

Pickler& Pickler::Text(std::string_view utf8) {
  out_ += 'V';
  out_ += EncodeRawUnicodeEscape(utf8);
  out_ += '\n';
  Put();
  return *this;
}

Pickler& Pickler::Int(std::int64_t value) {
  out_ += fmt::format("I{}\n", value);
  return *this;
}

Pickler& Pickler::None() {
  out_ += 'N';
  return *this;
}

Pickler& Pickler::Append() {
  out_ += 'a';
  return *this;
}

Pickler& Pickler::SetItem() {
  out_ += 's';
  return *this;
}

std::string Pickler::Finish() {
  out_ += '.';
  return std::move(out_);
}

void Pickler::Put() { out_ += fmt::format("p{}\n", memo_++); }

std::string PickleTextList(const std::vector<std::string>& items) {
  Pickler pickler;
  pickler.BeginList();
  for (const std::string& item : items) pickler.Text(item).Append();
  return pickler.Finish();
}

}  // namespace sonic
