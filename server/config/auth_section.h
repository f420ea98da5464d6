// The `auth` section of the config: who may publish and subscribe. Plain
// values. The rows that read them are in auth_section.cc.
#ifndef EVENTBUS_SERVER_CONFIG_AUTH_SECTION_H_
#define EVENTBUS_SERVER_CONFIG_AUTH_SECTION_H_

#include <map>
#include <string>

#include "server/security/grants.h"

namespace eventbus {

// auth: who may publish and subscribe. With no token and no subject, every
// client that can connect may do both.
struct AuthConfig {
  // auth.tokens_file: lines "TOKEN GRANTS [NAME]" (see authorizer.h).
  std::string tokens_file;
  // auth.subjects: client certificate common name -> grants (needs
  // server.tls.client_ca_file).
  std::map<std::string, Grants> subjects;
  // EVENTBUS_AUTH_TOKENS, environment only: "TOKEN GRANTS [NAME]" entries
  // separated by ';'. A secret: never logged nor shown.
  std::string tokens;

  bool enabled() const {
    return !tokens_file.empty() || !subjects.empty() || !tokens.empty();
  }
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_CONFIG_AUTH_SECTION_H_
