#include "core/text/libpq_messages.hpp"

namespace zodan {

std::string one_line(const char *text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (char &c : s)
        if (c == '\n') c = ' ';
    return s;
}

std::string connection_failure_reason(const std::string &message) {
    const std::string marker = "failed: ";
    size_t at = message.rfind(marker);
    std::string why = at == std::string::npos ? message : message.substr(at + marker.size());
    for (const char *prefix : {"FATAL:  ", "ERROR:  "})
        if (why.rfind(prefix, 0) == 0) why = why.substr(std::string(prefix).size());
    const std::string pw_failed = "password authentication failed for user ";
    if (why.rfind(pw_failed, 0) == 0) why = "authentication failed for user " + why.substr(pw_failed.size());
    return why;
}

}  // namespace zodan
