// The audit log: what each query served to which principal (strata/context/engine.h,
// strata/context/people.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

#include "context/access_filter.h"
#include "context/connectors/records.h"

namespace strata::context::detail {

namespace {

// Appends `record` to `log_path` as one JSON line (when set), then calls `callback` (when set).
Status write_audit(const std::function<void(const AuditRecord&)>& callback, const std::string& log_path,
                   const AuditRecord& record) {
  if (!log_path.empty()) {
    nlohmann::json j = {{"time", record.time},          {"operation", record.operation},
                        {"principal", record.principal}, {"groups", record.groups},
                        {"query", record.query},         {"served", record.served}};
    std::string line;
    try {
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    } catch (const std::exception& e) {
      return internal_error(std::string("audit record: ") + e.what());
    }
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return unavailable_error("audit log " + log_path + ": " + std::strerror(errno));
    const ssize_t n = ::write(fd, line.data(), line.size());
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size())) {
      return unavailable_error("audit log " + log_path + ": " + (n < 0 ? std::strerror(err) : "short write"));
    }
  }
  if (callback) {
    try {
      callback(record);
    } catch (...) {
      return internal_error("the audit callback threw");
    }
  }
  return ok_status();
}

}  // namespace

Status audit_query(const std::function<void(const AuditRecord&)>& callback, const std::string& log_path,
                   const char* operation, const Principal& principal, std::string_view query,
                   std::vector<std::string> served) {
  if (!callback && log_path.empty()) return ok_status();
  AuditRecord record;
  record.time = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  record.operation = operation;
  record.principal = principal.id;
  record.groups = principal.groups;
  record.query = std::string(utf8_prefix(query, 1000));
  record.served = std::move(served);
  return write_audit(callback, log_path, record);
}

Result<RetrieveResult> audited(const EngineOptions& options, const Query& query, RetrieveResult result) {
  if (!options.audit && options.audit_log_path.empty()) return result;
  std::vector<std::string> paths;
  paths.reserve(result.files.size());
  for (const auto& f : result.files) paths.push_back(f.path);
  STRATA_RETURN_IF_ERROR(
      audit_query(options.audit, options.audit_log_path, "retrieve", query.principal, query.text, std::move(paths)));
  return result;
}

}  // namespace strata::context::detail
