#include "context/tokenizer/tiktoken_file.h"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "context/tokenizer/bpe.h"

namespace strata::context {
namespace {

constexpr std::array<std::int8_t, 256> kBase64Values = [] {
  std::array<std::int8_t, 256> values{};
  for (auto& v : values) v = -1;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) values[static_cast<unsigned char>(alphabet[i])] =
      static_cast<std::int8_t>(i);
  return values;
}();

// Standard base64 with padding; appends the bytes to `out`. False if malformed.
bool decode_base64(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    const bool last = i + 4 == text.size();
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      std::int8_t value = kBase64Values[static_cast<unsigned char>(c)];
      if (c == '=' && last && j >= 4 - padding) value = 0;
      if (value < 0) return false;
      group = group << 6 | static_cast<std::uint32_t>(value);
    }
    out.push_back(static_cast<char>(group >> 16));
    if (!last || padding < 2) out.push_back(static_cast<char>(group >> 8 & 0xFF));
    if (!last || padding < 1) out.push_back(static_cast<char>(group & 0xFF));
  }
  return true;
}

Status line_error(std::string_view what, std::size_t line, const std::string& message) {
  return data_loss_error(std::string(what) + " line " + std::to_string(line) + ": " + message);
}

}  // namespace

std::size_t expected_token_count(Encoding encoding) noexcept {
  return encoding == Encoding::kO200kBase ? 199998 : 100256;
}

std::string_view encoding_name(Encoding encoding) noexcept {
  return encoding == Encoding::kO200kBase ? "o200k_base" : "cl100k_base";
}

Result<RankTable> parse_tiktoken(std::string_view content, std::size_t expected_tokens,
                                 std::string_view what) {
  if (content.size() > kMaxRankFileBytes) {
    return invalid_argument_error(std::string(what) + " is larger than " +
                                  std::to_string(kMaxRankFileBytes) +
                                  " bytes: not a rank file");
  }
  std::string blob;
  std::vector<RankEntry> entries;
  std::size_t line_number = 0;
  for (std::size_t pos = 0; pos < content.size();) {
    std::size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      return line_error(what, line_number, "expected \"<base64 token> <rank>\"");
    }
    const std::string_view token = line.substr(0, space);
    const std::string_view rank_text = line.substr(space + 1);
    if (rank_text.empty() || rank_text.size() > 9) {
      return line_error(what, line_number, "rank is not a number below " +
                                               std::to_string(kMaxRank));
    }
    std::uint64_t rank = 0;
    for (const char c : rank_text) {
      if (c < '0' || c > '9') {
        return line_error(what, line_number, "rank is not a decimal number");
      }
      rank = rank * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (rank >= kMaxRank) {
      return line_error(what, line_number, "rank is not below " + std::to_string(kMaxRank));
    }
    if (token.size() > (kMaxTokenBytes + 2) / 3 * 4) {
      return line_error(what, line_number,
                        "token is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
    }
    const std::size_t offset = blob.size();
    if (!decode_base64(token, blob)) {
      return line_error(what, line_number, "token is not valid base64");
    }
    if (blob.size() - offset > kMaxTokenBytes) {
      return line_error(what, line_number,
                        "token is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
    }
    entries.push_back(RankEntry{static_cast<std::uint32_t>(offset),
                                static_cast<std::uint32_t>(blob.size() - offset),
                                static_cast<Token>(rank), line_number});
  }
  if (entries.empty()) return data_loss_error(std::string(what) + " has no tokens");
  if (expected_tokens != 0 && entries.size() != expected_tokens) {
    return invalid_argument_error(std::string(what) + " has " + std::to_string(entries.size()) +
                                  " tokens where " + std::to_string(expected_tokens) +
                                  " were expected: the rank file of another encoding?");
  }
  auto table = RankTable::build(std::move(blob), std::move(entries));
  if (!table.ok()) {
    return data_loss_error(std::string(what) + " " + table.status().message());
  }
  return std::move(table).value();
}

Result<std::shared_ptr<const Tokenizer>> load_tiktoken(const std::string& path,
                                                       Encoding encoding) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return not_found_error("rank file " + path + " is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    const std::string reason = std::strerror(error);
    if (error == EACCES || error == EPERM) {
      return permission_denied_error("cannot read rank file " + path + ": " + reason);
    }
    return not_found_error("cannot open rank file " + path + ": " + reason);
  }
  std::string content;
  file.seekg(0, std::ios::end);
  const std::streamoff size = file.tellg();
  if (size < 0) return not_found_error("cannot read rank file " + path + " (not a file?)");
  if (static_cast<std::uint64_t>(size) > kMaxRankFileBytes) {
    return invalid_argument_error("rank file " + path + " is larger than " +
                                  std::to_string(kMaxRankFileBytes) + " bytes");
  }
  content.resize(static_cast<std::size_t>(size));
  file.seekg(0, std::ios::beg);
  if (!file.read(content.data(), size)) {
    return data_loss_error("cannot read rank file " + path);
  }
  auto table = parse_tiktoken(content, expected_token_count(encoding), "rank file " + path);
  if (!table.ok()) return table.status();
  return make_bpe_tokenizer(std::string(encoding_name(encoding)), encoding,
                            std::move(table).value());
}

}  // namespace strata::context
