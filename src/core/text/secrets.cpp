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
        if (span.end == span.begin) continue;  // "password=" and nothing after it
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

namespace {

// SQL is read as PostgreSQL's lexer reads it, so that a quote inside a
// comment, a dollar-quoted body or an E'' string cannot throw the reading
// of the literals that follow out of step. What is masked: the text inside
// every quoted piece ('', E'', $tag$ $tag$, "", comments), never the
// statement's code itself (a query's "x.password = y.password" stays).

bool is_ident_start(char ch) {
    const unsigned char u = static_cast<unsigned char>(ch);
    return std::isalpha(u) != 0 || ch == '_' || u >= 0x80;
}

bool is_ident_char(char ch) {
    return is_ident_start(ch) || std::isdigit(static_cast<unsigned char>(ch)) != 0 || ch == '$';
}

// The tag of a dollar quote opening at `pos` ("$$" or "$tag$"), or nothing:
// "$1" is a parameter, "a$b" part of an identifier.
bool dollar_tag_at(const std::string &sql, size_t pos, std::string &tag) {
    if (sql[pos] != '$' || (pos > 0 && is_ident_char(sql[pos - 1]))) return false;
    size_t end = pos + 1;
    if (end < sql.size() && is_ident_start(sql[end]))
        while (end < sql.size() && is_ident_char(sql[end]) && sql[end] != '$') ++end;
    if (end >= sql.size() || sql[end] != '$') return false;
    tag = sql.substr(pos, end + 1 - pos);
    return true;
}

// A quoted value with its quotes doubled ('' or ""), as it is written.
std::string requote(const std::string &value, char quote) {
    std::string out;
    for (char ch : value) {
        if (ch == quote) out += quote;
        out += ch;
    }
    return out;
}

std::string mask_sql(const std::string &sql, bool code_is_text);

// Reads the quoted piece opening at `pos` (after any E prefix) and appends
// it, masked, to `out`; returns where reading goes on.
size_t mask_quoted(const std::string &sql, size_t pos, bool backslash_escapes, std::string &out) {
    const char quote = sql[pos];
    std::string value;  // the text as PostgreSQL reads it ('' as one quote)
    size_t at = pos + 1;
    bool closed = false;
    while (at < sql.size()) {
        const char ch = sql[at];
        if (backslash_escapes && ch == '\\' && at + 1 < sql.size()) {
            // \' and \\ stand for the character; any other escape is kept as written.
            if (sql[at + 1] != '\'' && sql[at + 1] != '\\') value += ch;
            value += sql[at + 1];
            at += 2;
            continue;
        }
        if (ch == quote) {
            if (at + 1 < sql.size() && sql[at + 1] == quote) {
                value += quote;
                at += 2;
                continue;
            }
            closed = true;
            break;
        }
        value += ch;
        ++at;
    }
    const std::string masked = mask_secrets_in_text(value);
    out += quote;
    // Unchanged pieces are copied as written, escapes and all.
    out += masked == value ? sql.substr(pos + 1, at - pos - 1) : requote(masked, quote);
    // An unterminated piece runs to the end (a statement cut short by a
    // log's length limit).
    if (!closed) return sql.size();
    out += quote;
    return at + 1;
}

std::string mask_sql(const std::string &sql, bool code_is_text) {
    std::string out;
    size_t code_from = 0;
    // The code since the last quoted piece: as it is, or (inside a
    // dollar-quoted body, which may be a plain string) masked as free text.
    auto flush_code = [&](size_t until) {
        const std::string code = sql.substr(code_from, until - code_from);
        out += code_is_text ? mask_secrets_in_text(code) : code;
    };
    size_t pos = 0;
    std::string tag;
    while (pos < sql.size()) {
        const char ch = sql[pos];
        if (ch == '\'' || ch == '"') {
            flush_code(pos);
            // E'...' (not the end of a word such as "some'"): backslash escapes.
            const bool escapes = ch == '\'' && pos > 0 && (sql[pos - 1] == 'E' || sql[pos - 1] == 'e') &&
                                 (pos < 2 || !is_ident_char(sql[pos - 2]));
            pos = code_from = mask_quoted(sql, pos, escapes, out);
        } else if (ch == '-' && pos + 1 < sql.size() && sql[pos + 1] == '-') {
            flush_code(pos);
            size_t end = sql.find('\n', pos);
            end = end == std::string::npos ? sql.size() : end;
            out += mask_secrets_in_text(sql.substr(pos, end - pos));
            pos = code_from = end;
        } else if (ch == '/' && pos + 1 < sql.size() && sql[pos + 1] == '*') {
            flush_code(pos);
            // Block comments nest.
            size_t end = pos + 2;
            for (int depth = 1; end < sql.size() && depth > 0;) {
                if (sql.compare(end, 2, "/*") == 0) {
                    ++depth;
                    end += 2;
                } else if (sql.compare(end, 2, "*/") == 0) {
                    --depth;
                    end += 2;
                } else {
                    ++end;
                }
            }
            end = std::min(end, sql.size());
            out += mask_secrets_in_text(sql.substr(pos, end - pos));
            pos = code_from = end;
        } else if (ch == '$' && dollar_tag_at(sql, pos, tag)) {
            flush_code(pos);
            const size_t body = pos + tag.size();
            size_t close = sql.find(tag, body);
            const bool closed = close != std::string::npos;
            if (!closed) close = sql.size();
            // A body is often code itself (DO, CREATE FUNCTION): read it
            // as SQL, its own code taken as free text.
            out += tag + mask_sql(sql.substr(body, close - body), true);
            if (closed) out += tag;
            pos = code_from = closed ? close + tag.size() : sql.size();
        } else {
            ++pos;
        }
    }
    flush_code(sql.size());
    return out;
}

}  // namespace

std::string mask_secrets_in_sql(const std::string &sql) { return mask_sql(sql, false); }

bool may_hold_secrets(const char *text) {
    // What mask_secrets_in_text looks for: "password" and "postgres(ql)://".
    if (!text) return false;
    for (const char *p = text; *p; ++p) {
        if ((*p | 0x20) != 'p') continue;
        for (const char *word : {"password", "postgres"}) {
            size_t i = 0;
            while (word[i] && p[i] && std::tolower(static_cast<unsigned char>(p[i])) == word[i]) ++i;
            if (!word[i]) return true;
        }
    }
    return false;
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

std::string Secrets::scrub(const std::string &text) const { return replace_known(mask_secrets_in_text(text)); }

std::string Secrets::replace_known(const std::string &text) const {
    // Longest first, so that a secret containing another is replaced whole.
    std::vector<std::string> values = values_;
    std::sort(values.begin(), values.end(), [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
    std::string out = text;
    for (const std::string &v : values) out = replace_all(std::move(out), v);
    return out;
}

void Secrets::clear() {
    // Overwrite before letting go: the backend lives on after the call.
    for (std::string &v : values_) std::fill(v.begin(), v.end(), '\0');
    values_.clear();
}

}  // namespace zodan
