// Starts one of the local API stand-ins (tests/context/*_api_server.py) for the live connector
// tests and stops it at scope exit.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "context/context_test_util.h"

namespace strata::test {

class ApiServer {
 public:
  // `script`: a file name under tests/context/. With `cert` and `key` (PEM files) the server
  // answers over TLS (github_api_server.py only) and base() is https://.
  ApiServer(const ContextTempDir& dir, const std::string& script = "github_api_server.py", const std::string& cert = "",
            const std::string& key = "")
      : port_file_(dir.path("port")), log_(dir.path("requests.log")), tls_(!cert.empty()) {
    const std::string path = std::string(STRATA_SOURCE_DIR) + "/tests/context/" + script;
    pid_ = ::fork();
    if (pid_ == 0) {
      if (tls_) {
        ::execl("/usr/bin/python3", "python3", path.c_str(), port_file_.c_str(), log_.c_str(), cert.c_str(), key.c_str(),
                static_cast<char*>(nullptr));
      } else {
        ::execl("/usr/bin/python3", "python3", path.c_str(), port_file_.c_str(), log_.c_str(), static_cast<char*>(nullptr));
      }
      ::_exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::ifstream in(port_file_);
      if (in >> port_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ApiServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;
  int port() const { return port_; }
  std::string base() const { return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_); }
  // "GET <path> <Authorization>" per request so far.
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string port_file_, log_;
  bool tls_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Occurrences of `what` in `s`.
inline std::size_t count_of(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace strata::test
