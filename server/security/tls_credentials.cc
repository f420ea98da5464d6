#include "server/security/tls_credentials.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace eventbus {

struct TlsMaterial {
  std::string cert_chain;
  std::string private_key;
  std::string client_ca;  // empty without mTLS

  TlsMaterial() = default;
  TlsMaterial(TlsMaterial&&) = default;
  TlsMaterial& operator=(TlsMaterial&&) = default;
  ~TlsMaterial() { OPENSSL_cleanse(private_key.data(), private_key.size()); }
};

namespace {

// The private directory's names: generations g1, g2, ... each holding
// these files, and the symlink to the current one.
constexpr char kKeyName[] = "key.pem";
constexpr char kCertName[] = "cert.pem";
constexpr char kCaName[] = "client-ca.pem";
constexpr char kCurrentName[] = "current";
// The private directory: kDirectoryPrefix, the daemon's pid, '-', random.
constexpr char kDirectoryPrefix[] = "eventbus-tls-";

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

namespace {

// The files of `tls` (enabled), read and checked.
absl::StatusOr<TlsMaterial> ReadTlsMaterial(const TlsOptions& tls) {
  TlsMaterial material;
  EVENTBUS_ASSIGN_OR_RETURN(
      material.cert_chain,
      ReadSettingFile("server.tls.cert_file", tls.cert_file));
  EVENTBUS_ASSIGN_OR_RETURN(
      material.private_key,
      ReadSettingFile("server.tls.key_file", tls.key_file));
  const Certificate certificate = FirstCertificate(material.cert_chain);
  if (certificate == nullptr) {
    return FileError("server.tls.cert_file", tls.cert_file,
                     "holds no PEM certificate");
  }
  const PrivateKey key = ReadPrivateKey(material.private_key);
  if (key == nullptr) {
    return FileError("server.tls.key_file", tls.key_file,
                     "holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(certificate.get(), key.get()) != 1) {
    ERR_clear_error();
    return FileError(
        "server.tls.key_file", tls.key_file,
        absl::StrCat("is not the private key of the certificate in "
                     "server.tls.cert_file ",
                     tls.cert_file));
  }
  if (!tls.client_ca_file.empty()) {
    EVENTBUS_ASSIGN_OR_RETURN(
        material.client_ca,
        ReadSettingFile("server.tls.client_ca_file", tls.client_ca_file));
    if (FirstCertificate(material.client_ca) == nullptr) {
      return FileError("server.tls.client_ca_file", tls.client_ca_file,
                       "holds no PEM certificate");
    }
  }
  return material;
}

// A tmpfs directory for the private copies: $RUNTIME_DIRECTORY (systemd's
// RuntimeDirectory=, its first entry), /dev/shm, $TMPDIR, /tmp.
std::string PrivateDirectoryParent() {
  if (const char* runtime = std::getenv("RUNTIME_DIRECTORY");
      runtime != nullptr && *runtime != '\0') {
    return std::string(runtime, std::strcspn(runtime, ":"));
  }
  struct stat shm {};
  if (stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) &&
      access("/dev/shm", W_OK | X_OK) == 0) {
    return "/dev/shm";
  }
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

absl::Status ErrnoError(const std::string& what) {
  return absl::InternalError(
      absl::StrCat("server.tls: ", what, ": ", std::strerror(errno)));
}

// Writes `text` to the new file `path` (mode 0600), dated `mtime`, and
// syncs nothing: the directory is rewritten at every start.
absl::Status WritePrivateFile(const std::string& path, const std::string& text,
                              time_t mtime) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      S_IRUSR | S_IWUSR);
  if (fd < 0) return ErrnoError(absl::StrCat("cannot create ", path));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status status =
          ErrnoError(absl::StrCat("cannot write ", path));
      close(fd);
      return status;
    }
    written += static_cast<size_t>(n);
  }
  // gRPC checks that a pair did not change while it read it by comparing
  // whole-second mtimes: each generation gets a second of its own.
  const timespec times[2] = {{.tv_sec = mtime, .tv_nsec = 0},
                             {.tv_sec = mtime, .tv_nsec = 0}};
  if (futimens(fd, times) != 0) {
    const absl::Status status = ErrnoError(absl::StrCat("cannot date ", path));
    close(fd);
    return status;
  }
  if (close(fd) != 0) return ErrnoError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Removes the generation directory `path` and its files, if there.
void RemoveGeneration(const std::string& path) {
  for (const char* name : {kKeyName, kCertName, kCaName}) {
    unlink(absl::StrCat(path, "/", name).c_str());
  }
  rmdir(path.c_str());
}

// Whether `name` is a private directory's: kDirectoryPrefix, digits, '-'
// and mkdtemp's six letters or digits.
bool IsPrivateDirectoryName(const std::string& name) {
  const size_t prefix = sizeof(kDirectoryPrefix) - 1;
  if (name.rfind(kDirectoryPrefix, 0) != 0) return false;
  const size_t dash = name.find('-', prefix);
  if (dash == std::string::npos || dash == prefix ||
      name.size() != dash + 1 + 6) {
    return false;
  }
  for (size_t i = prefix; i < dash; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(name[i]))) return false;
  }
  for (size_t i = dash + 1; i < name.size(); ++i) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}

// Removes what a daemon that died without cleaning up (SIGKILL, a crash)
// left in `parent`: private directories of this user, mode 0700, that no
// live daemon holds locked (each holds a flock on its own directory as long
// as it runs, in whatever PID namespace). Only the names a private
// directory holds are removed, never anything else.
void RemoveLeftovers(const std::string& parent) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(parent, error)) {
    const std::string name = entry.path().filename().string();
    if (!IsPrivateDirectoryName(name)) continue;
    const int fd = open(entry.path().c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat owner {};
    if (fstat(fd, &owner) != 0 || owner.st_uid != geteuid() ||
        (owner.st_mode & 07777) != S_IRWXU ||
        flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    const std::string path = entry.path().string();
    unlink(absl::StrCat(path, "/", kCurrentName).c_str());
    unlink(absl::StrCat(path, "/", kCurrentName, ".new").c_str());
    for (const auto& generation :
         std::filesystem::directory_iterator(path, error)) {
      int number = 0;
      const std::string generation_name = generation.path().filename().string();
      if (generation_name.size() > 1 && generation_name[0] == 'g' &&
          absl::SimpleAtoi(generation_name.substr(1), &number)) {
        RemoveGeneration(generation.path().string());
      }
    }
    rmdir(path.c_str());
    close(fd);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerTls>> ServerTls::Create(
    const TlsOptions& tls) {
  EVENTBUS_RETURN_IF_ERROR(ValidateTlsOptions(tls));
  std::unique_ptr<ServerTls> server_tls(new ServerTls());
  if (!tls.enabled()) {
    server_tls->credentials_ = grpc::InsecureServerCredentials();
    return server_tls;
  }
  EVENTBUS_ASSIGN_OR_RETURN(const TlsMaterial material, ReadTlsMaterial(tls));
  const std::string parent = PrivateDirectoryParent();
  RemoveLeftovers(parent);
  std::string directory =
      absl::StrCat(parent, "/", kDirectoryPrefix, getpid(), "-XXXXXX");
  if (mkdtemp(directory.data()) == nullptr) {
    return ErrnoError(
        absl::StrCat("cannot create a private directory like ", directory));
  }
  server_tls->directory_ = directory;
  // Held until exit: the next start's RemoveLeftovers sees it is alive.
  server_tls->lock_fd_ =
      open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (server_tls->lock_fd_ < 0 ||
      flock(server_tls->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return ErrnoError(absl::StrCat("cannot lock ", directory));
  }
  server_tls->mutual_ = !tls.client_ca_file.empty();
  EVENTBUS_RETURN_IF_ERROR(server_tls->Publish(material));

  const std::string current = absl::StrCat(directory, "/", kCurrentName, "/");
  server_tls->provider_ =
      server_tls->mutual_
          ? std::make_shared<
                grpc::experimental::FileWatcherCertificateProvider>(
                current + kKeyName, current + kCertName, current + kCaName,
                kRefreshSeconds)
          : std::make_shared<
                grpc::experimental::FileWatcherCertificateProvider>(
                current + kKeyName, current + kCertName, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(
      server_tls->provider_);
  options.watch_identity_key_cert_pairs();
  if (server_tls->mutual_) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  server_tls->credentials_ = grpc::experimental::TlsServerCredentials(options);
  return server_tls;
}

ServerTls::~ServerTls() {
  credentials_.reset();
  provider_.reset();
  if (directory_.empty()) return;
  unlink(absl::StrCat(directory_, "/", kCurrentName).c_str());
  for (int generation = std::max(1, generation_ - 1); generation <= generation_;
       ++generation) {
    RemoveGeneration(absl::StrCat(directory_, "/g", generation));
  }
  rmdir(directory_.c_str());
  if (lock_fd_ >= 0) close(lock_fd_);
}

absl::Status ServerTls::Rotate(const TlsOptions& tls) {
  EVENTBUS_RETURN_IF_ERROR(ValidateTlsOptions(tls));
  if (tls.enabled() != enabled()) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.tls.cert_file: turning TLS ",
                     tls.enabled() ? "on" : "off", " takes a restart"));
  }
  if (!enabled()) return absl::OkStatus();
  if (tls.client_ca_file.empty() == mutual_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server.tls.client_ca_file: turning client certificates (mTLS) ",
        mutual_ ? "off" : "on", " takes a restart"));
  }
  EVENTBUS_ASSIGN_OR_RETURN(const TlsMaterial material, ReadTlsMaterial(tls));
  // The same certificate (the key matches it) and CA: nothing to publish.
  if (material.cert_chain == cert_chain_ && material.client_ca == client_ca_) {
    return absl::OkStatus();
  }
  return Publish(material);
}

absl::Status ServerTls::Publish(const TlsMaterial& material) {
  const int generation = generation_ + 1;
  const std::string path = absl::StrCat(directory_, "/g", generation);
  if (mkdir(path.c_str(), S_IRWXU) != 0) {
    return ErrnoError(absl::StrCat("cannot create ", path));
  }
  const time_t mtime = std::max(time(nullptr), mtime_ + 1);
  absl::Status written = WritePrivateFile(absl::StrCat(path, "/", kKeyName),
                                          material.private_key, mtime);
  if (written.ok()) {
    written = WritePrivateFile(absl::StrCat(path, "/", kCertName),
                               material.cert_chain, mtime);
  }
  if (written.ok() && mutual_) {
    written = WritePrivateFile(absl::StrCat(path, "/", kCaName),
                               material.client_ca, mtime);
  }
  // One rename makes the whole generation current at once.
  const std::string link = absl::StrCat(directory_, "/", kCurrentName);
  const std::string staged = link + ".new";
  unlink(staged.c_str());
  if (written.ok() &&
      (symlink(absl::StrCat("g", generation).c_str(), staged.c_str()) != 0 ||
       rename(staged.c_str(), link.c_str()) != 0)) {
    written = ErrnoError(absl::StrCat("cannot make ", path, " current"));
  }
  if (!written.ok()) {
    unlink(staged.c_str());
    RemoveGeneration(path);
    return written;
  }
  generation_ = generation;
  mtime_ = mtime;
  cert_chain_ = material.cert_chain;
  client_ca_ = material.client_ca;
  // gRPC may still be reading the previous one; the one before it is done.
  if (generation > 2) {
    RemoveGeneration(absl::StrCat(directory_, "/g", generation - 2));
  }
  return absl::OkStatus();
}

}  // namespace eventbus
