#include "core/text/secrets.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include "libpq-fe.h"

namespace zodan {

namespace {

const char *const kMask = "********";

bool is_blank(char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; }

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return s;
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
        // Words too short to tell would mask ordinary words everywhere.
        if (end - pos < raw.size() && end - pos >= 4) out.push_back(raw.substr(pos, end - pos));
        pos = end;
    }
}

}  // namespace

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

void Secrets::add_dsn(const std::string &dsn) {
    // The values as libpq reads them (the authority on what the password
    // is), and their spellings in the string itself: quoted, escaped,
    // percent-encoded, and word by word (libpq quotes a stray word of a
    // password with a blank in it when the string does not parse).
    char *err = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption *)> options(PQconninfoParse(dsn.c_str(), &err),
                                                                              PQconninfoFree);
    if (err) PQfreemem(err);
    if (options)
        for (PQconninfoOption *o = options.get(); o->keyword; ++o)
            if (o->val && std::string(o->keyword).find("password") != std::string::npos) add_secret(o->val);
    for (const Span &span : secret_spans(dsn)) {
        std::string raw = dsn.substr(span.begin, span.end - span.begin);
        if (raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'') add_secret(raw.substr(1, raw.size() - 2));
        std::vector<std::string> words;
        add_words(raw, words);
        for (const std::string &w : words) add_secret(w);
        add_secret(raw);
    }
}

void Secrets::add_secret(const std::string &value) {
    if (!value.empty() && std::find(values_.begin(), values_.end(), value) == values_.end()) values_.push_back(value);
}

std::string Secrets::scrub(const std::string &text) const {
    std::string out = mask_secrets_in_text(text);
    // Longest first, so that a secret containing another is replaced whole.
    std::vector<std::string> values = values_;
    std::sort(values.begin(), values.end(), [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
    for (const std::string &v : values) out = replace_all(std::move(out), v);
    return out;
}

void Secrets::clear() {
    // Overwrite before letting go: the backend lives on after the call.
    for (std::string &v : values_) std::fill(v.begin(), v.end(), '\0');
    values_.clear();
}

}  // namespace zodan
