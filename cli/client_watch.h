// Whether the client of an HTTP request has closed its connection, asked while the request
// waits for the model: its work is then dropped before it runs (nginx's rule too: a client
// that closes while the upstream works has given up). cpp-httplib 0.11 (Debian 12) gives a
// handler no socket, so the connection's socket is found among the process's descriptors by
// its two ends (the request's remote and local address and port), once, on the first ask.
#pragma once

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>

namespace cli {

class ClientWatch {
 public:
  ClientWatch(std::string remote_addr, int remote_port, std::string local_addr, int local_port)
      : remote_addr_(std::move(remote_addr)),
        local_addr_(std::move(local_addr)),
        remote_port_(remote_port),
        local_port_(local_port) {}

  // True once the client has closed (or reset) the connection. A socket that cannot be
  // found is never reported gone.
  bool gone() {
    if (fd_ == kUnknown) fd_ = find();
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

 private:
  static constexpr int kUnknown = -2;

  // "address", port of one end of a socket, as httplib writes them (numeric getnameinfo).
  static bool end_of(int fd, bool peer, std::string& address, int& port) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    auto* a = reinterpret_cast<sockaddr*>(&addr);
    if ((peer ? ::getpeername(fd, a, &len) : ::getsockname(fd, a, &len)) != 0) return false;
    if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return false;
    char host[NI_MAXHOST], service[NI_MAXSERV];
    if (::getnameinfo(a, len, host, sizeof host, service, sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
      return false;
    address = host;
    port = std::atoi(service);
    return true;
  }

  int find() const {
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return -1;
    int found = -1;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      const int fd = std::atoi(entry->d_name);
      std::string address;
      int port = 0;
      if (end_of(fd, true, address, port) && port == remote_port_ && address == remote_addr_ &&
          end_of(fd, false, address, port) && port == local_port_ && address == local_addr_) {
        found = fd;
        break;
      }
    }
    ::closedir(dir);
    return found;
  }

  std::string remote_addr_, local_addr_;
  int remote_port_, local_port_;
  int fd_ = kUnknown;
};

}  // namespace cli
