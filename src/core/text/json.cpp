#include "core/text/json.hpp"

#include <cstdio>
#include <stdexcept>

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

JsonObject &JsonObject::merge(const JsonObject &other) {
    for (const auto &[key, json] : other.fields_) {
        bool replaced = false;
        for (auto &field : fields_)
            if (field.first == key) {
                field.second = json;
                replaced = true;
            }
        if (!replaced) fields_.emplace_back(key, json);
    }
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

std::string JsonValue::text() const {
    if (kind_ == Kind::Array || kind_ == Kind::Object) throw std::runtime_error("a JSON value is not a scalar");
    return scalar_;
}

const JsonValue *JsonValue::get(const std::string &key) const {
    for (const auto &[k, v] : members_)
        if (k == key) return &v;
    return nullptr;
}

std::string JsonValue::text_of(const std::string &key, const std::string &fallback) const {
    const JsonValue *v = get(key);
    return v && !v->is_null() ? v->text() : fallback;
}

class JsonParser {
public:
    explicit JsonParser(const std::string &text) : s_(text) {}

    JsonValue document() {
        JsonValue v = value();
        space();
        if (at_ != s_.size()) fail("text after the value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string &what) const {
        throw std::runtime_error("malformed JSON at offset " + std::to_string(at_) + ": " + what);
    }
    void space() {
        while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\r' || s_[at_] == '\t')) ++at_;
    }
    bool take(char c) {
        space();
        if (at_ < s_.size() && s_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!take(c)) fail(std::string("expected '") + c + "'");
    }
    bool word(const char *w) {
        const std::string text(w);
        if (s_.compare(at_, text.size(), text) != 0) return false;
        at_ += text.size();
        return true;
    }
    void utf8(unsigned long cp, std::string &out) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    unsigned long hex4() {
        if (at_ + 4 > s_.size()) fail("short \\u escape");
        unsigned long cp = std::stoul(s_.substr(at_, 4), nullptr, 16);
        at_ += 4;
        return cp;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (true) {
            if (at_ >= s_.size()) fail("unterminated string");
            char c = s_[at_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= s_.size()) fail("unterminated escape");
            char e = s_[at_++];
            switch (e) {
            case '"': case '\\': case '/': out += e; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned long cp = hex4();
                if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(at_, 2, "\\u") == 0) {
                    at_ += 2;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4() - 0xDC00);
                }
                utf8(cp, out);
                break;
            }
            default: fail("unknown escape");
            }
        }
    }
    JsonValue value() {
        space();
        if (at_ >= s_.size()) fail("no value");
        JsonValue v;
        const char c = s_[at_];
        if (c == '{') {
            ++at_;
            v.kind_ = JsonValue::Kind::Object;
            if (take('}')) return v;
            do {
                space();
                std::string key = string();
                expect(':');
                v.members_.emplace_back(std::move(key), value());
            } while (take(','));
            expect('}');
        } else if (c == '[') {
            ++at_;
            v.kind_ = JsonValue::Kind::Array;
            if (take(']')) return v;
            do v.items_.push_back(value());
            while (take(','));
            expect(']');
        } else if (c == '"') {
            v.kind_ = JsonValue::Kind::String;
            v.scalar_ = string();
        } else if (word("null")) {
        } else if (word("true") || word("false")) {
            v.kind_ = JsonValue::Kind::Bool;
            v.scalar_ = s_[at_ - 1] == 'e' && s_[at_ - 2] == 'u' ? "true" : "false";
        } else {
            const size_t start = at_;
            while (at_ < s_.size() && std::string("+-0123456789.eE").find(s_[at_]) != std::string::npos) ++at_;
            if (at_ == start) fail("unexpected character");
            v.kind_ = JsonValue::Kind::Number;
            v.scalar_ = s_.substr(start, at_ - start);
        }
        return v;
    }

    const std::string &s_;
    size_t at_ = 0;
};

JsonValue parse_json(const std::string &text) { return JsonParser(text).document(); }

}  // namespace zodan
