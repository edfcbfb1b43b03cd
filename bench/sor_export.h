// A synthetic systems-of-record export in the real formats (Slack workspace export, GitHub
// REST API JSON), shared by strata_sor_export_gen and strata_sor_bench.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace strata::bench {

struct ExportSize {
  std::size_t messages = 1'000'000;
  std::size_t pulls = 100'000;
  std::size_t reviews_per_pull = 2;
  std::size_t channels = 50;
  std::size_t private_channels = 10;
  std::size_t users = 200;
  std::size_t messages_per_day = 200;
  std::size_t vocabulary = 0;  // see Words
};

inline const char* kWords[] = {"deploy", "rollback", "latency", "billing", "migration", "schema", "cache", "retry",
                               "timeout", "kafka", "postgres", "index", "shard", "quota", "incident", "alert",
                               "dashboard", "release", "canary", "feature", "flag", "oncall", "review", "merge",
                               "upload", "parser", "memory", "leak", "thread", "lock", "queue", "backoff"};

// The words of the generated text.
//   vocabulary 0   the 32 words above, drawn uniformly: the export of every figure in
//                  docs/benchmarks.md up to the ninth pass (byte for byte the same files);
//   vocabulary N   N pronounceable pseudo-words drawn by Zipf's law (the k-th most common
//                  word has weight 1/k), as words are in prose and chat: a few words make
//                  most of the text and most words are rare. The full-text index then holds
//                  up to N terms instead of 32, with doclists of every length.
class Words {
 public:
  explicit Words(std::size_t vocabulary = 0) {
    if (vocabulary == 0) return;
    static const char* const kSyllables[] = {"ba", "de", "ki", "lo", "mu", "na", "pe", "ri", "so", "tu", "va",
                                             "ze", "ga", "ho", "ju", "fi", "ca", "we", "xo", "yu"};
    constexpr std::size_t kBase = sizeof kSyllables / sizeof kSyllables[0];
    words_.reserve(vocabulary);
    cdf_.reserve(vocabulary);
    double total = 0;
    for (std::size_t k = 0; k < vocabulary; ++k) {
      // k + kBase written in base kBase, one syllable a digit: unique, at least two
      // syllables, and the common words are the short ones.
      std::size_t digits[24];
      int n = 0;
      for (std::size_t v = k + kBase; v > 0; v /= kBase) digits[n++] = v % kBase;
      std::string w;
      while (n > 0) w += kSyllables[digits[--n]];
      words_.push_back(std::move(w));
      total += 1.0 / static_cast<double>(k + 1);
      cdf_.push_back(total);
    }
  }

  [[nodiscard]] std::string sentence(std::mt19937_64& rng, int words) const {
    std::string s;
    for (int i = 0; i < words; ++i) {
      if (i) s += ' ';
      if (words_.empty()) {
        s += kWords[rng() % (sizeof kWords / sizeof kWords[0])];
      } else {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * cdf_.back();
        const auto at = static_cast<std::size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
        s += words_[std::min(at, words_.size() - 1)];
      }
    }
    return s;
  }

 private:
  std::vector<std::string> words_;
  std::vector<double> cdf_;
};

inline std::string day_name(std::size_t day) {
  // Days from 2023-01-01 (month lengths of a non-leap year).
  static const int kMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year = 2023, month = 0;
  std::size_t d = day;
  while (true) {
    const int len = kMonth[month] + (month == 1 && year % 4 == 0 ? 1 : 0);
    if (d < static_cast<std::size_t>(len)) break;
    d -= static_cast<std::size_t>(len);
    if (++month == 12) month = 0, ++year;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year % 10000, month + 1, static_cast<int>(d + 1));
  return buf;
}

// Writes <dir>/slack and <dir>/github. Returns the number of records (messages, pull
// requests, reviews).
inline std::size_t write_synthetic_export(const std::string& dir, const ExportSize& size) {
  namespace fs = std::filesystem;
  std::mt19937_64 rng(42);
  const Words words(size.vocabulary);
  const std::string slack = dir + "/slack", gh = dir + "/github";
  fs::create_directories(slack);
  fs::create_directories(gh + "/pulls");
  // Appended rather than "U" + to_string(): gcc 12 at -O2 reports a false -Wrestrict there.
  auto user_id = [](std::size_t u) {
    std::string id = "U";
    id += std::to_string(100000 + u);
    return id;
  };
  {
    std::ofstream out(slack + "/users.json");
    out << "[";
    for (std::size_t u = 0; u < size.users; ++u) {
      out << (u ? "," : "") << "{\"id\":\"" << user_id(u) << "\",\"name\":\"user" << u
          << "\",\"real_name\":\"User " << u << "\",\"profile\":{\"email\":\"user" << u << "@acme.io\"}}";
    }
    out << "]";
  }
  std::ofstream channels(slack + "/channels.json"), groups(slack + "/groups.json");
  channels << "[";
  groups << "[";
  for (std::size_t c = 0; c < size.channels; ++c) {
    const bool priv = c < size.private_channels;
    std::ofstream& out = priv ? groups : channels;
    const bool first = priv ? c == 0 : c == size.private_channels;
    out << (first ? "" : ",") << "{\"id\":\"" << (priv ? "G" : "C") << (1000 + c) << "\",\"name\":\"chan-" << c
        << "\",\"is_private\":" << (priv ? "true" : "false") << ",\"members\":[";
    for (std::size_t m = 0; m < 8; ++m) out << (m ? "," : "") << "\"" << user_id((c * 7 + m) % size.users) << "\"";
    out << "]}";
  }
  channels << "]";
  groups << "]";
  channels.close();
  groups.close();
  const std::size_t per_channel = (size.messages + size.channels - 1) / size.channels;
  std::size_t written = 0;
  for (std::size_t c = 0; c < size.channels && written < size.messages; ++c) {
    const std::string folder = slack + "/chan-" + std::to_string(c);
    fs::create_directories(folder);
    std::size_t in_channel = 0;
    for (std::size_t day = 0; in_channel < per_channel && written < size.messages; ++day) {
      std::ofstream out(folder + "/" + day_name(day) + ".json");
      out << "[";
      std::int64_t base = 1672531200 + static_cast<std::int64_t>(day) * 86400;
      std::string thread_ts;
      for (std::size_t k = 0; k < size.messages_per_day && in_channel < per_channel && written < size.messages; ++k) {
        char ts[32];
        std::snprintf(ts, sizeof ts, "%lld.%06zu", static_cast<long long>(base + static_cast<std::int64_t>(k) * 60), k);
        out << (k ? "," : "") << "{\"type\":\"message\",\"user\":\"" << user_id(rng() % size.users) << "\",\"text\":\""
            << words.sentence(rng, 12 + static_cast<int>(rng() % 20)) << "\",\"ts\":\"" << ts << "\"";
        if (k % 5 == 0) thread_ts = ts;
        else if (k % 5 == 2) out << ",\"thread_ts\":\"" << thread_ts << "\"";
        if (k % 17 == 0) out << ",\"edited\":{\"user\":\"U100000\",\"ts\":\"" << ts << "\"}";
        out << "}";
        ++in_channel;
        ++written;
      }
      out << "]";
    }
  }
  std::size_t reviews = 0;
  const std::size_t page_size = 100;
  for (std::size_t page = 0; page * page_size < size.pulls; ++page) {
    char name[64];
    std::snprintf(name, sizeof name, "/pulls/page-%06zu.json", page + 1);
    std::ofstream out(gh + name);
    out << "[";
    for (std::size_t k = 0; k < page_size && page * page_size + k < size.pulls; ++k) {
      const std::size_t n = page * page_size + k + 1;
      const std::string day = day_name(n % 700);
      out << (k ? "," : "") << "{\"number\":" << n << ",\"title\":\"" << words.sentence(rng, 6) << "\",\"state\":\"closed\","
          << "\"user\":{\"login\":\"user" << rng() % size.users << "\"},\"body\":\"" << words.sentence(rng, 40)
          << " Fixes #" << (n + 7) << "\",\"created_at\":\"" << day << "T10:00:00Z\",\"updated_at\":\"" << day
          << "T12:00:00Z\",\"merged_at\":\"" << day << "T12:00:00Z\",\"base\":{\"ref\":\"main\"},\"head\":{\"ref\":\"b" << n
          << "\"},\"html_url\":\"https://github.com/acme/api/pull/" << n << "\"}";
      const std::string pdir = gh + "/pulls/" + std::to_string(n);
      fs::create_directories(pdir);
      std::ofstream rv(pdir + "/reviews.json");
      rv << "[";
      for (std::size_t r = 0; r < size.reviews_per_pull; ++r) {
        rv << (r ? "," : "") << "{\"id\":" << (n * 10 + r) << ",\"user\":{\"login\":\"user" << rng() % size.users
           << "\"},\"state\":\"" << (r + 1 == size.reviews_per_pull ? "APPROVED" : "CHANGES_REQUESTED")
           << "\",\"body\":\"" << words.sentence(rng, 10) << "\",\"submitted_at\":\"" << day << "T11:00:00Z\"}";
        ++reviews;
      }
      rv << "]";
    }
    out << "]";
  }
  {
    std::ofstream repo(gh + "/repo.json");
    repo << "{\"full_name\":\"acme/api\",\"private\":false}";
  }
  return written + size.pulls + reviews;
}

// Appends one new day of Slack messages after the export's last day: `per_channel` messages in
// each channel (the incremental case: a day's new messages on a large index). Returns the
// number written.
// `files`, when given, receives the paths written.
inline std::size_t write_slack_increment(const std::string& dir, const ExportSize& size, std::size_t per_channel,
                                         std::vector<std::string>* files = nullptr) {
  std::mt19937_64 rng(7);
  const Words words(size.vocabulary);
  const std::size_t channel_messages = (size.messages + size.channels - 1) / size.channels;
  const std::size_t day = (channel_messages + size.messages_per_day - 1) / size.messages_per_day;
  const std::int64_t base = 1672531200 + static_cast<std::int64_t>(day) * 86400;
  std::size_t written = 0;
  for (std::size_t c = 0; c < size.channels; ++c) {
    const std::string path = dir + "/slack/chan-" + std::to_string(c) + "/" + day_name(day) + ".json";
    if (files) files->push_back(path);
    std::ofstream out(path);
    out << "[";
    for (std::size_t k = 0; k < per_channel; ++k) {
      char ts[32];
      std::snprintf(ts, sizeof ts, "%lld.%06zu", static_cast<long long>(base + static_cast<std::int64_t>(k) * 8), k);
      out << (k ? "," : "") << "{\"type\":\"message\",\"user\":\"U" << (100000 + rng() % size.users)
          << "\",\"text\":\"" << words.sentence(rng, 12 + static_cast<int>(rng() % 20)) << "\",\"ts\":\"" << ts << "\"}";
      ++written;
    }
    out << "]";
  }
  return written;
}

}  // namespace strata::bench
