#include "server/security/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace eventbus {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
using PrivateKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
             &BIO_free);
}

// The first certificate of a PEM text, or null.
Certificate FirstCertificate(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  Certificate certificate(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &X509_free);
  ERR_clear_error();
  return certificate;
}

// The private key of a PEM text, or null. Encrypted keys are refused (no
// passphrase callback reads a terminal).
PrivateKey ReadPrivateKey(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  PrivateKey key(bio ? PEM_read_bio_PrivateKey(
                           bio.get(), nullptr,
                           [](char*, int, int, void*) { return 0; }, nullptr)
                     : nullptr,
                 &EVP_PKEY_free);
  ERR_clear_error();
  return key;
}

absl::Status FileError(absl::string_view key, const std::string& path,
                       absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(key, ": ", path, " ", problem));
}

}  // namespace

absl::Status ValidateTlsOptions(const TlsOptions& tls) {
  if (tls.cert_file.empty() && !tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "server.tls.key_file is set but server.tls.cert_file is not: TLS "
        "needs both");
  }
  if (!tls.cert_file.empty() && tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "server.tls.cert_file is set but server.tls.key_file is not: TLS "
        "needs both");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "server.tls.client_ca_file needs server.tls.cert_file and "
        "server.tls.key_file: client certificates are checked over TLS");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsOptions& tls) {
  EVENTBUS_RETURN_IF_ERROR(ValidateTlsOptions(tls));
  if (!tls.enabled()) return grpc::InsecureServerCredentials();

  EVENTBUS_ASSIGN_OR_RETURN(
      const std::string cert_chain,
      ReadSettingFile("server.tls.cert_file", tls.cert_file));
  EVENTBUS_ASSIGN_OR_RETURN(
      std::string private_key,
      ReadSettingFile("server.tls.key_file", tls.key_file));
  const Certificate certificate = FirstCertificate(cert_chain);
  if (certificate == nullptr) {
    return FileError("server.tls.cert_file", tls.cert_file,
                     "holds no PEM certificate");
  }
  const PrivateKey key = ReadPrivateKey(private_key);
  if (key == nullptr) {
    OPENSSL_cleanse(private_key.data(), private_key.size());
    return FileError("server.tls.key_file", tls.key_file,
                     "holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(certificate.get(), key.get()) != 1) {
    ERR_clear_error();
    OPENSSL_cleanse(private_key.data(), private_key.size());
    return FileError(
        "server.tls.key_file", tls.key_file,
        absl::StrCat("is not the private key of the certificate in "
                     "server.tls.cert_file ",
                     tls.cert_file));
  }

  grpc::SslServerCredentialsOptions options(
      tls.client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!tls.client_ca_file.empty()) {
    EVENTBUS_ASSIGN_OR_RETURN(
        options.pem_root_certs,
        ReadSettingFile("server.tls.client_ca_file", tls.client_ca_file));
    if (FirstCertificate(options.pem_root_certs) == nullptr) {
      return FileError("server.tls.client_ca_file", tls.client_ca_file,
                       "holds no PEM certificate");
    }
  }
  options.pem_key_cert_pairs.push_back(
      {.private_key = private_key, .cert_chain = cert_chain});
  OPENSSL_cleanse(private_key.data(), private_key.size());
  return grpc::SslServerCredentials(options);
}

}  // namespace eventbus
