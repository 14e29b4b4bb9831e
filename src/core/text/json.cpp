#include "core/text/json.hpp"

#include <cstdio>

namespace zodan {

std::string json_quote(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out + "\"";
}

JsonObject &JsonObject::add(const std::string &key, const std::string &value) {
    fields_.emplace_back(key, json_quote(value));
    return *this;
}

JsonObject &JsonObject::add(const std::string &key, long long value) {
    fields_.emplace_back(key, std::to_string(value));
    return *this;
}

JsonObject &JsonObject::add_raw(const std::string &key, const std::string &json) {
    fields_.emplace_back(key, json);
    return *this;
}

std::string JsonObject::str() const {
    std::string out = "{";
    for (size_t i = 0; i < fields_.size(); ++i) {
        if (i) out += ", ";
        out += json_quote(fields_[i].first) + ": " + fields_[i].second;
    }
    return out + "}";
}

}  // namespace zodan
