// The audit log: what each query served to which principal (strata/context/engine.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

#include "context/access_filter.h"
#include "context/connectors/records.h"

namespace strata::context::detail {

Result<RetrieveResult> audited(const EngineOptions& options, const Query& query, RetrieveResult result) {
  if (!options.audit && options.audit_log_path.empty()) return result;
  AuditRecord record;
  record.time = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  record.principal = query.principal.id;
  record.groups = query.principal.groups;
  record.query = std::string(utf8_prefix(query.text, 1000));
  for (const auto& f : result.files) record.served.push_back(f.path);
  if (!options.audit_log_path.empty()) {
    nlohmann::json j = {{"time", record.time}, {"principal", record.principal}, {"groups", record.groups},
                        {"query", record.query}, {"served", record.served}};
    std::string line;
    try {
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    } catch (const std::exception& e) {
      return internal_error(std::string("audit record: ") + e.what());
    }
    const int fd = ::open(options.audit_log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return unavailable_error("audit log " + options.audit_log_path + ": " + std::strerror(errno));
    const ssize_t n = ::write(fd, line.data(), line.size());
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size())) {
      return unavailable_error("audit log " + options.audit_log_path + ": " +
                               (n < 0 ? std::strerror(err) : "short write"));
    }
  }
  if (options.audit) {
    try {
      options.audit(record);
    } catch (...) {
      return internal_error("the audit callback threw");
    }
  }
  return result;
}

}  // namespace strata::context::detail
