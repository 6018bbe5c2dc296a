// What downloads from the model hub share: its address and the rule that only a file
// checked against a hash is kept (download.cpp).
#pragma once

#include <filesystem>
#include <string>

namespace clip::io {

// The hub's base URL: $CLIP_HUB_ENDPOINT (a mirror of it, or the tests' server), else the
// public hub.
std::string hub_endpoint();

// Whether `file` was verified when it was downloaded (its .sha256 marker matches its size,
// and `expected_sha` when given).
bool verified(const std::filesystem::path& file, const std::string& expected_sha = "");

// download_file, keeping the result only when it could be checked against `sha256` or the
// hash the hub publishes; otherwise it is removed and the failure is a clip::Error.
void download_verified(const std::string& url, const std::filesystem::path& destination, const std::string& sha256,
                       bool progress);

}  // namespace clip::io
