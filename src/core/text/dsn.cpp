#include "core/text/dsn.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace zodan {
namespace {

// Error texts name the problem and where it is, but never quote a value:
// a value may be (part of) a password, and these messages reach NOTICEs
// and logs.
[[noreturn]] void bad_dsn(const std::string &why) {
    throw std::invalid_argument("invalid connection string: " + why);
}

const char *const kMask = "********";

bool is_blank(char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; }

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return s;
}

// Any keyword naming a password (password, sslpassword, and misspelt
// upper-case variants libpq would reject) is treated as a secret.
bool is_secret_key(const std::string &key) {
    return lower(key).find("password") != std::string::npos;
}

bool starts_with(const std::string &s, const std::string &prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

// Length of the URI scheme designator, or 0 when `text` is key=value form.
size_t uri_prefix_len(const std::string &text) {
    for (const char *prefix : {"postgresql://", "postgres://"})
        if (starts_with(text, prefix)) return std::char_traits<char>::length(prefix);
    return 0;
}

std::string at_offset(size_t pos) { return " at offset " + std::to_string(pos); }

// ---- key=value form, following libpq's conninfo_parse ------------------

class ConninfoParser {
public:
    explicit ConninfoParser(const std::string &text) : text_(text) {}

    std::vector<std::pair<std::string, std::string>> parse() {
        std::vector<std::pair<std::string, std::string>> params;
        for (skip_blanks(); !at_end(); skip_blanks()) {
            std::string key = read_key();
            std::string value = read_value();
            params.emplace_back(std::move(key), std::move(value));
        }
        return params;
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    void skip_blanks() {
        while (!at_end() && is_blank(text_[pos_])) ++pos_;
    }

    std::string read_key() {
        const size_t start = pos_;
        while (!at_end() && text_[pos_] != '=' && !is_blank(text_[pos_])) ++pos_;
        const size_t end = pos_;
        skip_blanks();
        // The word is not echoed: when a password contains an unquoted
        // blank, its second half arrives here as a "keyword".
        if (at_end() || text_[pos_] != '=')
            bad_dsn("missing \"=\" after the keyword" + at_offset(start));
        if (end == start) bad_dsn("empty keyword before \"=\"" + at_offset(start));
        ++pos_;
        skip_blanks();
        return text_.substr(start, end - start);
    }

    std::string read_value() {
        if (!at_end() && text_[pos_] == '\'') return read_quoted();
        std::string value;
        while (!at_end() && !is_blank(text_[pos_])) {
            // As in libpq, a backslash takes the next character literally
            // and vanishes when nothing follows it.
            if (text_[pos_] == '\\' && ++pos_ == text_.size()) break;
            value += text_[pos_++];
        }
        return value;
    }

    std::string read_quoted() {
        const size_t start = pos_++;
        std::string value;
        for (;;) {
            if (at_end()) bad_dsn("unterminated quoted string starting" + at_offset(start));
            const char ch = text_[pos_++];
            if (ch == '\'') return value;
            if (ch == '\\') {
                if (at_end()) bad_dsn("unterminated quoted string starting" + at_offset(start));
                value += text_[pos_++];
            } else {
                value += ch;
            }
        }
    }

    const std::string &text_;
    size_t pos_ = 0;
};

// ---- URI form, following libpq's conninfo_uri_parse_options -------------

int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

// `what` names the URI part for the error message instead of its text.
std::string percent_decode(const std::string &s, const std::string &what) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        const int hi = i + 1 < s.size() ? hex_digit(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) bad_dsn("invalid percent-encoded token in the " + what + " of the URI");
        if (hi == 0 && lo == 0) bad_dsn("forbidden value %00 in the " + what + " of the URI");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

class UriParser {
public:
    UriParser(const std::string &text, size_t prefix_len) : text_(text), pos_(prefix_len) {}

    std::vector<std::pair<std::string, std::string>> parse() {
        read_userinfo();
        const char after_hosts = read_hosts();
        if (after_hosts == '/') read_dbname();
        if (!at_end() && text_[pos_] == '?') {
            ++pos_;
            read_query();
        }
        return std::move(params_);
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }

    void add(const std::string &key, const std::string &raw, const std::string &what) {
        std::string value = percent_decode(raw, what);
        if (!value.empty()) params_.emplace_back(key, std::move(value));
    }

    // "user[:password]@" is present when an '@' comes before the path or
    // the query.
    void read_userinfo() {
        const size_t at = text_.find('@', pos_);
        const size_t stop = text_.find_first_of("/?", pos_);
        if (at == std::string::npos || (stop != std::string::npos && stop < at)) return;
        const std::string userinfo = text_.substr(pos_, at - pos_);
        const size_t colon = userinfo.find(':');
        add("user", userinfo.substr(0, colon), "user name");
        if (colon != std::string::npos) add("password", userinfo.substr(colon + 1), "password");
        pos_ = at + 1;
    }

    // host[:port][,host[:port]...]; returns the character that ended the
    // list ('/', '?' or '\0'). Like libpq, hosts and ports are kept as
    // comma-separated lists in "host" and "port".
    char read_hosts() {
        std::string hosts, ports;
        for (;;) {
            hosts += read_host();
            if (!at_end() && text_[pos_] == ':') {
                ++pos_;
                const size_t start = pos_;
                while (!at_end() && !is_one_of(text_[pos_], "/?,")) ++pos_;
                ports += text_.substr(start, pos_ - start);
            }
            if (at_end() || text_[pos_] != ',') break;
            ++pos_;
            hosts += ',';
            ports += ',';
        }
        add("host", hosts, "host");
        add("port", ports, "port");
        return at_end() ? '\0' : text_[pos_];
    }

    std::string read_host() {
        if (!at_end() && text_[pos_] == '[') return read_ipv6_host();
        const size_t start = pos_;
        while (!at_end() && !is_one_of(text_[pos_], ":/?,")) ++pos_;
        std::string host = text_.substr(start, pos_ - start);
        // A second '@' means an unencoded '@' in the user name or password;
        // libpq would take the rest as a host name and fail obscurely.
        if (host.find('@') != std::string::npos)
            bad_dsn("unexpected \"@\" in the host part of the URI (write %40 for \"@\" in a "
                    "user name or password)");
        return host;
    }

    std::string read_ipv6_host() {
        const size_t close = text_.find(']', pos_);
        if (close == std::string::npos)
            bad_dsn("missing \"]\" after an IPv6 host address in the URI");
        if (close == pos_ + 1) bad_dsn("empty IPv6 host address in the URI");
        std::string host = text_.substr(pos_ + 1, close - pos_ - 1);
        pos_ = close + 1;
        if (!at_end() && !is_one_of(text_[pos_], ":/?,"))
            bad_dsn("unexpected character after an IPv6 host address" + at_offset(pos_));
        return host;
    }

    void read_dbname() {
        const size_t start = ++pos_;
        while (!at_end() && text_[pos_] != '?') ++pos_;
        add("dbname", text_.substr(start, pos_ - start), "database name");
    }

    void read_query() {
        while (!at_end()) {
            size_t end = text_.find('&', pos_);
            if (end == std::string::npos) end = text_.size();
            read_query_param(text_.substr(pos_, end - pos_), pos_);
            pos_ = end < text_.size() ? end + 1 : end;
        }
    }

    void read_query_param(const std::string &param, size_t offset) {
        if (param.empty()) return;
        const size_t eq = param.find('=');
        if (eq == std::string::npos)
            bad_dsn("missing \"=\" in a URI query parameter" + at_offset(offset));
        if (param.find('=', eq + 1) != std::string::npos)
            bad_dsn("extra \"=\" in a URI query parameter" + at_offset(offset));
        std::string key = percent_decode(param.substr(0, eq), "query parameter name");
        if (key.empty()) bad_dsn("empty URI query parameter name" + at_offset(offset));
        std::string value = percent_decode(param.substr(eq + 1), "value of a query parameter");
        // libpq accepts the JDBC spelling ssl=true as sslmode=require.
        if (key == "ssl" && value == "true") {
            key = "sslmode";
            value = "require";
        }
        set(std::move(key), std::move(value));
    }

    // A query parameter overrides what the URI's other parts said.
    void set(std::string key, std::string value) {
        for (auto &kv : params_)
            if (kv.first == key) {
                kv.second = std::move(value);
                return;
            }
        params_.emplace_back(std::move(key), std::move(value));
    }

    static bool is_one_of(char ch, const char *set) {
        return std::char_traits<char>::find(set, std::char_traits<char>::length(set), ch) != nullptr;
    }

    const std::string &text_;
    size_t pos_;
    std::vector<std::pair<std::string, std::string>> params_;
};

// Values are quoted only when libpq would otherwise misread them.
std::string conninfo_value(const std::string &value) {
    const bool plain = !value.empty() && std::none_of(value.begin(), value.end(), [](char ch) {
        return is_blank(ch) || ch == '\'' || ch == '\\';
    });
    if (plain) return value;
    std::string out = "'";
    for (char ch : value) {
        if (ch == '\'' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + '\'';
}

// ---- fallback masking for text that does not parse ----------------------

struct Span {
    size_t begin;
    size_t end;
};

bool is_key_char(char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_';
}

// True when `pos` starts "word=" (optionally with blanks before '='): the
// start of the next key=value pair, where a secret surely ends.
bool starts_pair(const std::string &text, size_t pos) {
    size_t i = pos;
    while (i < text.size() && is_key_char(text[i])) ++i;
    if (i == pos) return false;
    while (i < text.size() && is_blank(text[i])) ++i;
    return i < text.size() && text[i] == '=';
}

// The value after "...password =": a quoted one up to its closing quote
// (or the end), an unquoted one up to the next "key=" pair, so that a
// password with a stray blank is still covered whole.
Span secret_value_span(const std::string &text, size_t pos, bool in_uri) {
    while (pos < text.size() && is_blank(text[pos])) ++pos;
    size_t end = pos;
    if (end < text.size() && text[end] == '\'') {
        for (++end; end < text.size() && text[end] != '\''; ++end)
            if (text[end] == '\\') ++end;
        end = std::min(end + 1, text.size());
        return {pos, end};
    }
    while (end < text.size()) {
        if (is_blank(text[end])) {
            size_t next = end;
            while (next < text.size() && is_blank(text[next])) ++next;
            if (next == text.size() || starts_pair(text, next)) break;
            end = next;
            continue;
        }
        if (in_uri && text[end] == '&') break;  // next query parameter
        ++end;
    }
    return {pos, end};
}

// Every "password" (any case, so sslpassword too) followed by '=' marks a
// secret value.
void find_keyword_secrets(const std::string &text, std::vector<Span> &spans) {
    const std::string low = lower(text);
    const bool in_uri = uri_prefix_len(text) != 0;
    for (size_t hit = low.find("password"); hit != std::string::npos;
         hit = low.find("password", hit + 1)) {
        size_t pos = hit + 8;
        while (pos < text.size() && is_blank(text[pos])) ++pos;
        if (pos < text.size() && text[pos] == '=') spans.push_back(secret_value_span(text, pos + 1, in_uri));
    }
}

// In a URI everything between "scheme://" and the last '@' before the path
// is user information; all of it after the first ':' is taken as secret.
// URIs may sit anywhere in free text ("dsn was: postgresql://...").
void find_uri_secrets(const std::string &text, std::vector<Span> &spans) {
    const std::string low = lower(text);
    for (size_t hit = low.find("postgres"); hit != std::string::npos; hit = low.find("postgres", hit + 1)) {
        const size_t start = hit + uri_prefix_len(low.substr(hit, 16));
        if (start == hit) continue;
        size_t stop = text.find_first_of("/? \t\n", start);
        if (stop == std::string::npos) stop = text.size();
        const size_t at = stop == start ? std::string::npos : text.rfind('@', stop - 1);
        if (at == std::string::npos || at < start) continue;
        const size_t colon = text.find(':', start);
        if (colon != std::string::npos && colon < at) spans.push_back({colon + 1, at});
    }
}

std::vector<Span> secret_spans(const std::string &text) {
    std::vector<Span> spans;
    find_uri_secrets(text, spans);
    find_keyword_secrets(text, spans);
    std::sort(spans.begin(), spans.end(),
              [](const Span &a, const Span &b) { return a.begin < b.begin; });
    return spans;
}

std::string mask_spans(const std::string &text, const std::vector<Span> &spans) {
    std::string out;
    size_t pos = 0;
    for (const Span &span : spans) {
        if (span.end <= pos) continue;  // inside one already masked
        out.append(text, pos, std::max(span.begin, pos) - pos);
        out += kMask;
        pos = span.end;
    }
    out.append(text, pos, std::string::npos);
    return out;
}

std::string replace_all(std::string text, const std::string &needle) {
    if (needle.empty()) return text;
    for (size_t hit = text.find(needle); hit != std::string::npos;
         hit = text.find(needle, hit + std::char_traits<char>::length(kMask)))
        text.replace(hit, needle.size(), kMask);
    return text;
}

// A span that did not parse may hold a password with blanks in it; libpq
// quotes such pieces one word at a time ("missing "=" after "word"").
void add_words(const std::string &raw, std::vector<std::string> &out) {
    size_t pos = 0;
    for (;;) {
        while (pos < raw.size() && is_blank(raw[pos])) ++pos;
        if (pos == raw.size()) return;
        size_t end = pos;
        while (end < raw.size() && !is_blank(raw[end])) ++end;
        if (end - pos < raw.size()) out.push_back(raw.substr(pos, end - pos));
        pos = end;
    }
}

}  // namespace

Dsn Dsn::parse(const std::string &text) {
    Dsn dsn;
    const size_t prefix = uri_prefix_len(text);
    dsn.params_ = prefix ? UriParser(text, prefix).parse() : ConninfoParser(text).parse();
    return dsn;
}

std::optional<std::string> Dsn::get(const std::string &key) const {
    // libpq lets a later setting of a keyword win over an earlier one.
    for (auto it = params_.rbegin(); it != params_.rend(); ++it)
        if (it->first == key) return it->second;
    return std::nullopt;
}

std::string Dsn::masked() const {
    std::string out;
    for (const auto &[key, value] : params_) {
        if (!out.empty()) out += ' ';
        out += key + "=" + (is_secret_key(key) ? std::string(kMask) : conninfo_value(value));
    }
    return out;
}

std::string mask_secrets_in_text(const std::string &text) { return mask_spans(text, secret_spans(text)); }

std::string mask_secrets_in_sql(const std::string &sql) {
    std::string out;
    size_t pos = 0;
    while (pos < sql.size()) {
        const size_t open = sql.find('\'', pos);
        if (open == std::string::npos) break;
        out.append(sql, pos, open + 1 - pos);
        // The literal's text, '' read as one quote; an unterminated literal
        // runs to the end (a statement cut short by a log's length limit).
        std::string literal;
        size_t at = open + 1;
        bool closed = false;
        while (at < sql.size()) {
            if (sql[at] == '\'') {
                if (at + 1 < sql.size() && sql[at + 1] == '\'') {
                    literal += '\'';
                    at += 2;
                    continue;
                }
                closed = true;
                break;
            }
            literal += sql[at++];
        }
        for (char ch : mask_secrets_in_text(literal)) {
            if (ch == '\'') out += '\'';
            out += ch;
        }
        if (closed) out += '\'';
        pos = closed ? at + 1 : sql.size();
    }
    if (pos < sql.size()) out.append(sql, pos, std::string::npos);
    return out;
}

std::string mask_dsn(const std::string &text) {
    try {
        return Dsn::parse(text).masked();
    } catch (const std::invalid_argument &) {
        return mask_spans(text, secret_spans(text));
    }
}

std::string scrub_secrets(const std::string &message, const std::string &dsn) {
    // Both the decoded secrets and their spelling in the text (quoted,
    // escaped, percent-encoded) may turn up in a libpq message.
    std::vector<std::string> secrets;
    try {
        const Dsn parsed = Dsn::parse(dsn);
        for (const auto &[key, value] : parsed.params())
            if (is_secret_key(key)) secrets.push_back(value);
    } catch (const std::invalid_argument &) {
    }
    for (const Span &span : secret_spans(dsn)) {
        std::string raw = dsn.substr(span.begin, span.end - span.begin);
        if (raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'')
            secrets.push_back(raw.substr(1, raw.size() - 2));
        add_words(raw, secrets);
        secrets.push_back(std::move(raw));
    }
    // Longest first, so that a secret containing another is replaced whole.
    std::sort(secrets.begin(), secrets.end(),
              [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
    std::string out = message;
    for (const auto &secret : secrets) out = replace_all(std::move(out), secret);
    return out;
}

}  // namespace zodan
