// A tiny HTTP/1.1 server on 127.0.0.1 for the download tests: fixed routes, byte ranges,
// and bodies cut short on purpose. One connection at a time; stops with the object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace clip::test {

class HttpTestServer {
 public:
  struct Response {
    int status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
    std::size_t cut_after = std::string::npos;  // close the connection after this many body bytes
    bool ranges = true;                         // honour "Range: bytes=N-"
    std::size_t endless =
        0;  // > 0: no Content-Length; the body repeated up to this many bytes, or until the client goes
  };

  HttpTestServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 8);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpTestServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }

  void route(const std::string& path, Response r) {
    std::lock_guard lock(mutex_);
    routes_[path] = std::move(r);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      handle(client);
      close(client);
    }
  }

  void handle(int client) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = recv(client, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const std::string path =
        request.substr(request.find(' ') + 1, request.find(' ', request.find(' ') + 1) - request.find(' ') - 1);
    Response r;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      const auto it = routes_.find(path);
      if (it == routes_.end())
        r = {404, "not found"};
      else
        r = it->second;
    }
    std::size_t from = 0;
    const auto range = request.find("Range: bytes=");
    int status = r.status;
    if (range != std::string::npos && r.ranges && status == 200) {
      from = std::stoul(request.substr(range + 13));
      if (from >= r.body.size()) {
        status = 416;
        r.body.clear();
        from = 0;
      } else {
        status = 206;
        r.headers["Content-Range"] = "bytes " + std::to_string(from) + "-" + std::to_string(r.body.size() - 1) + "/" +
                                     std::to_string(r.body.size());
      }
    }
    const std::string body = r.body.substr(from);
    std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\n" +
                       (r.endless ? "" : "Content-Length: " + std::to_string(body.size()) + "\r\n") +
                       "Connection: close\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    send_all(client, head);
    if (r.endless) {
      for (std::size_t sent = 0; sent < r.endless && !stop_; sent += body.size())
        if (!send_all(client, body)) return;
      return;
    }
    send_all(client, body.substr(0, std::min(body.size(), r.cut_after)));
  }

  static bool send_all(int client, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = send(client, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::map<std::string, Response> routes_;
  std::vector<std::string> requests_;
};

}  // namespace clip::test
