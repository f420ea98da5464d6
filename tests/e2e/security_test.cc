// Security end to end, against the real eventbusd: TLS and mTLS with a test
// CA made at run time by the openssl command, bearer tokens and certificate
// subjects, the start-up warning, every limit's error, and keepalive
// dropping a dead peer. Each test fails when its protection is removed.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/metadata.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/child_process.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/grpc_clients.h"
#include "tests/testing/temp_dir.h"

namespace eventbus {
namespace {

using ::eventbus::testing::ChildProcess;
using ::eventbus::testing::CommandResult;
using ::eventbus::testing::DaemonProcess;
using ::eventbus::testing::FullAuditEvent;
using ::eventbus::testing::RunCommand;
using ::eventbus::testing::TempDir;
using ::eventbus::testing::TestSubscriber;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr char kPublisherToken[] = "pub-7f3c9a1e5b2d4068";
constexpr char kMonitorToken[] = "mon-2b8e6d4f0a1c3957";
constexpr char kWrongToken[] = "bad-0000000000000000";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Returns the status of `expr` from the current function when not OK.
#define EVENTBUS_TEST_RUN(expr)                       \
  do {                                                \
    if (absl::Status status = (expr); !status.ok()) { \
      return status;                                  \
    }                                                 \
  } while (0)

// A test CA, a server certificate for localhost and 127.0.0.1, client
// certificates (CN publisher and stranger) from that CA, and a server and a
// client certificate (CN publisher) from another CA, made once per run with the
// openssl command (EC P-256 keys: quick to make).
class TestPki {
 public:
  static absl::StatusOr<std::unique_ptr<TestPki>> Generate() {
    std::unique_ptr<TestPki> pki(new TestPki());
    if (Openssl({"version"}).exit_status != 0) {
      return absl::FailedPreconditionError(
          "the openssl command is needed to make test certificates (Debian "
          "package openssl)");
    }
    for (const char* ca : {"ca", "other-ca"}) {
      pki->dir_.WriteFile(
          absl::StrCat(ca, ".cnf"),
          absl::StrCat("[req]\ndistinguished_name = dn\nprompt = no\n"
                       "x509_extensions = v3_ca\n[dn]\nCN = eventbus ",
                       ca,
                       "\n[v3_ca]\n"
                       "basicConstraints = critical,CA:TRUE\n"
                       "keyUsage = critical,keyCertSign,cRLSign\n"
                       "subjectKeyIdentifier = hash\n"));
      EVENTBUS_TEST_RUN(pki->Run(
          {"req", "-x509", "-config", pki->Path(absl::StrCat(ca, ".cnf")),
           "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", pki->Path(absl::StrCat(ca, ".key")), "-out",
           pki->Path(absl::StrCat(ca, ".pem")), "-days", "2"}));
    }
    int serial = 1;
    for (const auto& [name, cn, ca, usage] : std::vector<
             std::tuple<std::string, std::string, std::string, std::string>>{
             {"server", "localhost", "ca", "serverAuth"},
             {"other-server", "localhost", "other-ca", "serverAuth"},
             {"publisher", "publisher", "ca", "clientAuth"},
             {"stranger", "stranger", "ca", "clientAuth"},
             {"rogue", "publisher", "other-ca", "clientAuth"}}) {
      pki->dir_.WriteFile(
          name + ".cnf",
          absl::StrCat("[req]\ndistinguished_name = dn\nprompt = no\n"
                       "[dn]\nCN = ",
                       cn, "\n"));
      pki->dir_.WriteFile(
          name + ".ext",
          absl::StrCat("basicConstraints = CA:FALSE\n"
                       "keyUsage = critical,digitalSignature\n"
                       "extendedKeyUsage = ",
                       usage, "\nsubjectAltName = DNS:", cn,
                       usage == "serverAuth" ? ",IP:127.0.0.1" : "", "\n"));
      EVENTBUS_TEST_RUN(pki->Run(
          {"req", "-new", "-config", pki->Path(name + ".cnf"), "-newkey", "ec",
           "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           pki->Path(name + ".key"), "-out", pki->Path(name + ".csr")}));
      EVENTBUS_TEST_RUN(pki->Run(
          {"x509", "-req", "-in", pki->Path(name + ".csr"), "-CA",
           pki->Path(ca + ".pem"), "-CAkey", pki->Path(ca + ".key"),
           "-set_serial", std::to_string(serial++), "-days", "2", "-extfile",
           pki->Path(name + ".ext"), "-out", pki->Path(name + ".pem")}));
    }
    return pki;
  }

  std::string Path(const std::string& name) const { return dir_.Path(name); }
  std::string Read(const std::string& name) const {
    return ReadFile(Path(name));
  }

 private:
  TestPki() = default;

  static CommandResult Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "openssl"});
    return RunCommand(args);
  }
  absl::Status Run(std::vector<std::string> args) const {
    const std::string command = absl::StrJoin(args, " ");
    const CommandResult result = Openssl(std::move(args));
    if (result.exit_status == 0) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("openssl ", command, " failed: ", result.err));
  }

  // Removed, with the keys, when the suite ends.
  const TempDir dir_{"eventbus-pki"};
};

// eventbusd's exit status, or -1000 when it could not run or did not exit.
int RunToExit(const std::vector<std::string>& args, std::string* log) {
  absl::StatusOr<int> status = DaemonProcess::Run(args, log);
  return status.ok() ? *status : -1000;
}

std::chrono::system_clock::time_point Deadline(int seconds = 10) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

class SecurityTest : public ::testing::Test {
 protected:
  // The test CA (TlsTest checks that it was made).
  const TestPki& Pki() { return *pki_; }

  void StartDaemon(std::vector<std::string> flags) {
    if (std::find(flags.begin(), flags.end(), "--address") == flags.end()) {
      flags.insert(flags.begin(), {"--address", "127.0.0.1:0"});
    }
    auto daemon = DaemonProcess::Start(flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
  }

  // The TLS flags of the test server certificate.
  std::vector<std::string> TlsFlags() {
    return {"--tls-cert-file", Pki().Path("server.pem"), "--tls-key-file",
            Pki().Path("server.key")};
  }
  std::vector<std::string> MtlsFlags() {
    std::vector<std::string> flags = TlsFlags();
    flags.insert(flags.end(), {"--tls-client-ca-file", Pki().Path("ca.pem")});
    return flags;
  }

  // A stub on a TLS channel trusting `ca`, presenting `client` (a name of
  // the PKI: "publisher", "stranger", "rogue") when not empty.
  std::unique_ptr<v1::EventBusService::Stub> TlsStub(
      const std::string& client = "", const std::string& ca = "ca") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Pki().Read(ca + ".pem");
    if (!client.empty()) {
      options.pem_private_key = Pki().Read(client + ".key");
      options.pem_cert_chain = Pki().Read(client + ".pem");
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return v1::EventBusService::NewStub(grpc::CreateCustomChannel(
        daemon_->address(), grpc::SslCredentials(options), args));
  }

  std::shared_ptr<grpc::Channel> PlainChannel() {
    return grpc::CreateChannel(daemon_->address(),
                               grpc::InsecureChannelCredentials());
  }
  std::unique_ptr<v1::EventBusService::Stub> PlainStub() {
    return v1::EventBusService::NewStub(PlainChannel());
  }

  // Publish with an optional bearer token.
  static grpc::Status Publish(v1::EventBusService::Stub& stub,
                              const std::string& token = "",
                              const v1::Event& event = FullAuditEvent(),
                              v1::PublishResponse* response = nullptr) {
    v1::PublishRequest request;
    *request.mutable_event() = event;
    v1::PublishResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return stub.Publish(&context, request, response ? response : &ignored);
  }

  // Opens a Subscribe stream with an optional bearer token: OK once the
  // daemon registered it (then cancels it), otherwise the status it ended
  // with.
  static grpc::Status Subscribe(v1::EventBusService::Stub& stub,
                                const std::string& token = "",
                                const v1::SubscribeRequest& request = {}) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    auto reader = stub.Subscribe(&context, request);
    reader->WaitForInitialMetadata();
    if (context.GetServerInitialMetadata().count(kStartSequenceMetadataKey)) {
      context.TryCancel();
      reader->Finish();
      return grpc::Status::OK;
    }
    return reader->Finish();
  }

  HealthCheckResponse::ServingStatus HealthStatus() {
    auto health = Health::NewStub(PlainChannel());
    HealthCheckResponse response;
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    grpc::Status status =
        health->Check(&context, HealthCheckRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  std::string TokensFile() {
    return temp_.WriteFile(
        "tokens",
        absl::StrCat("# test tokens\n", kPublisherToken, " publish opsml\n",
                     kMonitorToken, " subscribe monitor\n"));
  }

  static TestPki* pki_;
  static std::string* pki_error_;
  // This test's files; declared before daemon_, so the daemon stops first.
  const TempDir temp_{"eventbus-security"};
  std::unique_ptr<DaemonProcess> daemon_;
};

TestPki* SecurityTest::pki_ = nullptr;
std::string* SecurityTest::pki_error_ = nullptr;

// The tests that need the test certificates.
class TlsTest : public SecurityTest {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<TestPki>> pki = TestPki::Generate();
    if (pki.ok()) {
      pki_ = pki->release();
    } else {
      pki_error_ = new std::string(pki.status().ToString());
    }
  }

  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(pki_, nullptr) << *pki_error_; }
};

void ExpectCode(const grpc::Status& status, grpc::StatusCode code,
                const std::string& text = "") {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(text));
}

// --- TLS and mTLS.

TEST_F(TlsTest, TlsServesClientsThatTrustTheCa) {
  StartDaemon(TlsFlags());
  EXPECT_THAT(daemon_->Log(), HasSubstr("TLS on"));
  auto stub = TlsStub();
  TestSubscriber subscriber(*stub, {});
  ASSERT_TRUE(Publish(*stub).ok());
  ASSERT_TRUE(subscriber.ReadEvents(1));
  EXPECT_EQ(subscriber.events()[0].sequence(), 1u);
}

TEST_F(TlsTest, PlaintextOrUntrustingClientsCannotTalkToTls) {
  StartDaemon(TlsFlags());
  ExpectCode(Publish(*PlainStub()), grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the server's CA refuses the handshake.
  ExpectCode(Publish(*TlsStub("", "other-ca")), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Publish(*TlsStub()).ok());
}

TEST_F(TlsTest, MtlsNeedsAClientCertificateFromTheCa) {
  StartDaemon(MtlsFlags());
  EXPECT_THAT(daemon_->Log(), HasSubstr("client certificates required"));
  ExpectCode(Publish(*TlsStub()), grpc::StatusCode::UNAVAILABLE);
  ExpectCode(Publish(*TlsStub("rogue")), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Publish(*TlsStub("publisher")).ok());
  EXPECT_TRUE(Subscribe(*TlsStub("stranger")).ok());
}

// --- Rotation on reload (SIGHUP).

// Sends SIGHUP and waits for the reload's outcome line; returns the log.
std::string ReloadAndWait(DaemonProcess& daemon, int reloads_before) {
  const std::string log_before = daemon.Log();
  daemon.Signal(SIGHUP);
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (absl::Now() < deadline) {
    const std::string log = daemon.Log();
    int outcomes = 0;
    for (size_t at = 0; (at = log.find("reload", at)) != std::string::npos;
         ++at) {
      if (log.compare(at, 15, "reload: applied") == 0 ||
          log.compare(at, 13, "reload failed") == 0) {
        ++outcomes;
      }
    }
    if (outcomes > reloads_before) return log;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ADD_FAILURE() << "no reload outcome within 2 s:\n" << daemon.Log();
  return daemon.Log();
}

// Retries `call` until it returns OK or 10 s pass; returns its last
// status. New handshakes get rotated files within about a second (gRPC's
// refresh); the deadline leaves room for a loaded machine.
grpc::Status Eventually(const std::function<grpc::Status()>& call) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  grpc::Status status = call();
  while (!status.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    status = call();
  }
  return status;
}

TEST_F(TlsTest, ReloadRotatesTheServerCertificateKeepingConnections) {
  const std::string cert =
      temp_.WriteFile("cert.pem", Pki().Read("server.pem"));
  const std::string key = temp_.WriteFile("key.pem", Pki().Read("server.key"));
  StartDaemon({"--tls-cert-file", cert, "--tls-key-file", key});
  auto old_stub = TlsStub();
  TestSubscriber subscriber(*old_stub, {});
  ASSERT_TRUE(subscriber.ok());
  ASSERT_TRUE(Publish(*old_stub).ok());

  // The new pair is written (as a certificate manager would), then SIGHUP.
  temp_.WriteFile("cert.pem", Pki().Read("other-server.pem"));
  temp_.WriteFile("key.pem", Pki().Read("other-server.key"));
  const std::string log = ReloadAndWait(*daemon_, 0);
  EXPECT_THAT(log, HasSubstr("reload: applied"));
  EXPECT_THAT(log, HasSubstr("TLS files read again"));
  // New connections get the new certificate...
  EXPECT_TRUE(
      Eventually([&] { return Publish(*TlsStub("", "other-ca")); }).ok());
  ExpectCode(Publish(*TlsStub()), grpc::StatusCode::UNAVAILABLE);
  // ...while the connection made before keeps going: its stream too.
  EXPECT_TRUE(Publish(*old_stub).ok());
  ASSERT_TRUE(subscriber.ReadEvents(3));
  EXPECT_EQ(subscriber.events()[2].sequence(), 3u);
}

TEST_F(TlsTest, AReloadWithABadPairKeepsTheCertificateInForce) {
  const std::string cert =
      temp_.WriteFile("cert.pem", Pki().Read("server.pem"));
  const std::string key = temp_.WriteFile("key.pem", Pki().Read("server.key"));
  StartDaemon({"--tls-cert-file", cert, "--tls-key-file", key});
  // A certificate written before its key: they do not match.
  temp_.WriteFile("cert.pem", Pki().Read("other-server.pem"));
  const std::string log = ReloadAndWait(*daemon_, 0);
  EXPECT_THAT(log,
              HasSubstr("reload failed, the settings in force are kept: "
                        "server.tls.key_file: " +
                        key + " is not the private key of the certificate"));
  // Past two of gRPC's reads of the files (every second,
  // ServerTls::kRefreshSeconds): still the old certificate. Nothing to
  // wait for but time: the point is that nothing changes.
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_TRUE(Publish(*TlsStub()).ok());
  ExpectCode(Publish(*TlsStub("", "other-ca")), grpc::StatusCode::UNAVAILABLE);
  // Once the key follows, the next reload applies both.
  temp_.WriteFile("key.pem", Pki().Read("other-server.key"));
  EXPECT_THAT(ReloadAndWait(*daemon_, 1), HasSubstr("reload: applied"));
  EXPECT_TRUE(
      Eventually([&] { return Publish(*TlsStub("", "other-ca")); }).ok());
}

TEST_F(TlsTest, ReloadRotatesTheClientCa) {
  const std::string client_ca =
      temp_.WriteFile("client-ca.pem", Pki().Read("ca.pem"));
  std::vector<std::string> flags = TlsFlags();
  flags.insert(flags.end(), {"--tls-client-ca-file", client_ca});
  StartDaemon(flags);
  EXPECT_TRUE(Publish(*TlsStub("publisher")).ok());
  ExpectCode(Publish(*TlsStub("rogue")), grpc::StatusCode::UNAVAILABLE);

  temp_.WriteFile("client-ca.pem", Pki().Read("other-ca.pem"));
  EXPECT_THAT(ReloadAndWait(*daemon_, 0), HasSubstr("reload: applied"));
  EXPECT_TRUE(Eventually([&] { return Publish(*TlsStub("rogue")); }).ok());
  ExpectCode(Publish(*TlsStub("publisher")), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, TheCopiesOfAKilledDaemonAreRemovedAtTheNextStart) {
  const TempDir runtime("eventbusd-runtime");
  namespace fs = std::filesystem;
  const auto private_directories = [&] {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(runtime.path())) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  auto daemon =
      DaemonProcess::Start(TlsFlags(), absl::Seconds(20), runtime.path());
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::vector<std::string> left = private_directories();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_THAT(left[0], MatchesRegex("eventbus-tls-[0-9]+-[A-Za-z0-9]{6}"));
  EXPECT_EQ(fs::status(runtime.Path(left[0])).permissions(),
            fs::perms::owner_all);
  (*daemon)->Signal(SIGKILL);
  (*daemon)->Wait(absl::Seconds(10));
  // Things that only look alike stay: another name, another mode.
  fs::create_directory(runtime.Path("eventbus-tls-1-abcdef-keep"));
  fs::create_directory(runtime.Path("eventbus-tls-2-abcdef"));
  fs::permissions(
      runtime.Path("eventbus-tls-2-abcdef"),
      fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);

  daemon = DaemonProcess::Start(TlsFlags(), absl::Seconds(20), runtime.path());
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  daemon_ = std::move(*daemon);
  std::vector<std::string> now = private_directories();
  EXPECT_THAT(now, Not(Contains(left[0])));
  EXPECT_THAT(now, Contains("eventbus-tls-1-abcdef-keep"));
  EXPECT_THAT(now, Contains("eventbus-tls-2-abcdef"));
  EXPECT_EQ(now.size(), 3u);  // and the new daemon's own
  EXPECT_TRUE(Publish(*TlsStub()).ok());
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(absl::Seconds(10)), 0);
  EXPECT_EQ(private_directories().size(), 2u);  // removed at exit
}

TEST_F(TlsTest, TurningTlsOffTakesARestart) {
  const std::string config = temp_.WriteFile(
      "eventbus.yaml",
      absl::StrCat("server:\n  tls:\n    cert_file: ", Pki().Path("server.pem"),
                   "\n    key_file: ", Pki().Path("server.key"), "\n"));
  StartDaemon({"--config", config});
  temp_.WriteFile("eventbus.yaml", "server: {}\n");
  EXPECT_THAT(ReloadAndWait(*daemon_, 0),
              HasSubstr("server.tls.cert_file: turning TLS off takes a "
                        "restart"));
  EXPECT_TRUE(Publish(*TlsStub()).ok());
}

TEST_F(TlsTest, BadTlsFilesExitTwoNamingTheKeyAndTheFile) {
  const std::string cert = Pki().Path("server.pem");
  const std::string key = Pki().Path("server.key");
  const std::string junk = temp_.WriteFile("junk.pem", "not a certificate\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tls-cert-file", "/nonexistent/server.pem", "--tls-key-file", key},
       "server.tls.cert_file: cannot read /nonexistent/server.pem: No such "
       "file or directory"},
      {{"--tls-cert-file", cert, "--tls-key-file", "/nonexistent/server.key"},
       "server.tls.key_file: cannot read /nonexistent/server.key: No such "
       "file or directory"},
      {{"--tls-cert-file", cert, "--tls-key-file", key, "--tls-client-ca-file",
        "/nonexistent/ca.pem"},
       "server.tls.client_ca_file: cannot read /nonexistent/ca.pem: No such "
       "file or directory"},
      {{"--tls-cert-file", cert},
       "server.tls.cert_file is set but server.tls.key_file is not"},
      {{"--tls-cert-file", junk, "--tls-key-file", key},
       "server.tls.cert_file: " + junk + " holds no PEM certificate"},
      {{"--tls-cert-file", cert, "--tls-key-file", junk},
       "server.tls.key_file: " + junk +
           " holds no unencrypted PEM private key"},
      {{"--tls-cert-file", cert, "--tls-key-file", Pki().Path("publisher.key")},
       "server.tls.key_file: " + Pki().Path("publisher.key") +
           " is not the private key of the certificate in "
           "server.tls.cert_file " +
           cert},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"--address", "127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::string log;
    EXPECT_EQ(RunToExit(args, &log), 2) << log;
    EXPECT_THAT(log, HasSubstr(message));
  }
}

// --- Bearer tokens and certificate subjects.

TEST_F(SecurityTest, TokensGrantPublishAndSubscribe) {
  StartDaemon({"--auth-tokens-file", TokensFile()});
  auto stub = PlainStub();
  ExpectCode(Publish(*stub), grpc::StatusCode::UNAUTHENTICATED,
             "missing credentials");
  ExpectCode(Publish(*stub, kWrongToken), grpc::StatusCode::UNAUTHENTICATED,
             "unknown bearer token");
  ExpectCode(Publish(*stub, kMonitorToken), grpc::StatusCode::PERMISSION_DENIED,
             "token monitor may not publish");
  ExpectCode(Subscribe(*stub), grpc::StatusCode::UNAUTHENTICATED);
  ExpectCode(Subscribe(*stub, kWrongToken), grpc::StatusCode::UNAUTHENTICATED);
  ExpectCode(Subscribe(*stub, kPublisherToken),
             grpc::StatusCode::PERMISSION_DENIED,
             "token opsml may not subscribe");

  v1::PublishResponse response;
  EXPECT_TRUE(
      Publish(*stub, kPublisherToken, FullAuditEvent(), &response).ok());
  EXPECT_EQ(response.sequence(), 1u);  // refused publishes took no sequence
  EXPECT_TRUE(Subscribe(*stub, kMonitorToken).ok());
}

TEST_F(SecurityTest, PublishStreamNeedsThePublishRight) {
  StartDaemon({"--auth-tokens-file", TokensFile()});
  auto stub = PlainStub();
  // The status a PublishStream of one event ends with.
  auto stream_status = [&stub](const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (!token.empty()) {
      context.AddMetadata("authorization", "Bearer " + token);
    }
    auto stream = stub->PublishStream(&context);
    v1::PublishStreamRequest request;
    *request.mutable_event() = FullAuditEvent();
    stream->Write(request);
    stream->WritesDone();
    v1::PublishStreamResponse response;
    while (stream->Read(&response)) {
    }
    return stream->Finish();
  };
  ExpectCode(stream_status(""), grpc::StatusCode::UNAUTHENTICATED,
             "missing credentials");
  ExpectCode(stream_status(kWrongToken), grpc::StatusCode::UNAUTHENTICATED);
  ExpectCode(stream_status(kMonitorToken), grpc::StatusCode::PERMISSION_DENIED,
             "token monitor may not publish");
  EXPECT_TRUE(stream_status(kPublisherToken).ok());
  v1::PublishResponse response;
  ASSERT_TRUE(
      Publish(*stub, kPublisherToken, FullAuditEvent(), &response).ok());
  EXPECT_EQ(response.sequence(), 2u);  // only the authorized stream published
}

TEST_F(SecurityTest, HealthNeedsNoToken) {
  StartDaemon({"--auth-tokens-file", TokensFile()});
  EXPECT_EQ(HealthStatus(), HealthCheckResponse::SERVING);
}

TEST_F(SecurityTest, TokensNeverReachTheLog) {
  StartDaemon({"--auth-tokens-file", TokensFile(), "--log-level", "trace",
               "--drain-timeout", "0s"});
  auto stub = PlainStub();
  for (const char* token : {kPublisherToken, kMonitorToken, kWrongToken}) {
    (void)Publish(*stub, token);
    (void)Subscribe(*stub, token);
  }
  daemon_->Signal(SIGTERM);
  ASSERT_EQ(daemon_->Wait(absl::Seconds(10)), 0);
  const std::string log = daemon_->Log();
  EXPECT_THAT(log, HasSubstr("token opsml (publish)"));  // names are logged
  EXPECT_THAT(log, HasSubstr("refused"));
  for (const char* token : {kPublisherToken, kMonitorToken, kWrongToken}) {
    EXPECT_THAT(log, Not(HasSubstr(token)));
    EXPECT_THAT(log, Not(HasSubstr(std::string(token).substr(4))));
  }
}

TEST_F(SecurityTest, TokensFromTheEnvironment) {
  setenv("EVENTBUS_AUTH_TOKENS",
         absl::StrCat(kPublisherToken, " publish,subscribe env-token").c_str(),
         1);
  StartDaemon({});
  unsetenv("EVENTBUS_AUTH_TOKENS");
  auto stub = PlainStub();
  ExpectCode(Publish(*stub), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Publish(*stub, kPublisherToken).ok());
  EXPECT_TRUE(Subscribe(*stub, kPublisherToken).ok());
  // Not left in the environment block others with ptrace rights, or a
  // core dump, would read.
  std::ifstream environ(absl::StrCat("/proc/", daemon_->pid(), "/environ"),
                        std::ios::binary);
  const std::string block((std::istreambuf_iterator<char>(environ)),
                          std::istreambuf_iterator<char>());
  ASSERT_FALSE(block.empty());
  EXPECT_THAT(block, Not(HasSubstr(kPublisherToken)));
}

TEST_F(SecurityTest, BadTokensExitTwoWithoutShowingThem) {
  const std::string path = temp_.WriteFile(
      "bad-tokens",
      absl::StrCat(kPublisherToken, " publish\nsecret42 publish\n"));
  std::string log;
  EXPECT_EQ(
      RunToExit({"--address", "127.0.0.1:0", "--auth-tokens-file", path}, &log),
      2);
  EXPECT_THAT(log,
              HasSubstr(path + ":2: the token is shorter than 16 characters"));
  EXPECT_THAT(log, Not(HasSubstr("secret42")));
  EXPECT_EQ(RunToExit({"--address", "127.0.0.1:0", "--auth-tokens-file",
                       "/nonexistent/tokens"},
                      &log),
            2);
  EXPECT_THAT(log, HasSubstr("auth.tokens_file: cannot read "
                             "/nonexistent/tokens: No such file or "
                             "directory"));
}

TEST_F(TlsTest, CertificateSubjectsCarryGrants) {
  const std::string config = temp_.WriteFile(
      "subjects.yaml", absl::StrCat("server:\n"
                                    "  tls:\n"
                                    "    cert_file: ",
                                    Pki().Path("server.pem"),
                                    "\n"
                                    "    key_file: ",
                                    Pki().Path("server.key"),
                                    "\n"
                                    "    client_ca_file: ",
                                    Pki().Path("ca.pem"),
                                    "\n"
                                    "auth:\n"
                                    "  subjects:\n"
                                    "    publisher: publish\n"));
  StartDaemon({"--config", config, "--address", "127.0.0.1:0"});
  EXPECT_TRUE(Publish(*TlsStub("publisher")).ok());
  ExpectCode(Subscribe(*TlsStub("publisher")),
             grpc::StatusCode::PERMISSION_DENIED,
             "certificate subject publisher may not subscribe");
  ExpectCode(Publish(*TlsStub("stranger")), grpc::StatusCode::PERMISSION_DENIED,
             "certificate subject stranger has no grants");
}

// --- The start-up warning.

TEST_F(SecurityTest, WarnsWhenAnyoneBeyondLoopbackMayConnect) {
  StartDaemon({"--address", "0.0.0.0:0"});
  EXPECT_THAT(daemon_->Log(),
              HasSubstr("SECURITY WARNING: " + daemon_->address() +
                        " can be reached from other hosts and has no client "
                        "authentication and no TLS"));
}

TEST_F(SecurityTest, WarnsWhenTokensTravelInClearText) {
  StartDaemon({"--address", "0.0.0.0:0", "--auth-tokens-file", TokensFile()});
  EXPECT_THAT(daemon_->Log(),
              HasSubstr("bearer tokens cross the network in clear text"));
  EXPECT_THAT(daemon_->Log(), Not(HasSubstr("anyone who can connect")));
}

TEST_F(TlsTest, NoWarningOnLoopbackOrWithTlsAndTokens) {
  StartDaemon({});
  EXPECT_THAT(daemon_->Log(), Not(HasSubstr("SECURITY WARNING")));
  std::vector<std::string> flags = TlsFlags();
  flags.insert(flags.end(),
               {"--address", "0.0.0.0:0", "--auth-tokens-file", TokensFile()});
  StartDaemon(flags);
  EXPECT_THAT(daemon_->Log(), Not(HasSubstr("SECURITY WARNING")));
}

// --- Limits.

TEST_F(SecurityTest, AttributesPerEventAreLimited) {
  StartDaemon({"--max-attributes", "2"});
  auto stub = PlainStub();
  v1::Event event = FullAuditEvent();  // two attributes
  EXPECT_TRUE(Publish(*stub, "", event).ok());
  (*event.mutable_attributes())["third"] = "x";
  ExpectCode(Publish(*stub, "", event), grpc::StatusCode::INVALID_ARGUMENT,
             "event has 3 attributes, over limits.max_attributes (2)");
}

TEST_F(SecurityTest, AttributeKeysAndValuesAreLimited) {
  StartDaemon(
      {"--max-attribute-key-bytes", "8", "--max-attribute-value-bytes", "16"});
  auto stub = PlainStub();
  v1::Event event = FullAuditEvent();
  (*event.mutable_attributes())["12345678"] = std::string(16, 'v');
  EXPECT_TRUE(Publish(*stub, "", event).ok());
  v1::Event long_key = FullAuditEvent();
  (*long_key.mutable_attributes())["123456789"] = "v";
  ExpectCode(Publish(*stub, "", long_key), grpc::StatusCode::INVALID_ARGUMENT,
             "limits.max_attribute_key_bytes (8)");
  v1::Event long_value = FullAuditEvent();
  (*long_value.mutable_attributes())["k"] = std::string(17, 'v');
  ExpectCode(Publish(*stub, "", long_value), grpc::StatusCode::INVALID_ARGUMENT,
             "limits.max_attribute_value_bytes (16)");
}

TEST_F(SecurityTest, FilterSizeIsLimited) {
  StartDaemon({"--max-filter-size", "2"});
  auto stub = PlainStub();
  v1::SubscribeRequest request;
  request.mutable_filter()->add_types(v1::EVENT_TYPE_AUDIT);
  (*request.mutable_filter()->mutable_attributes())["team"] = "ml";
  EXPECT_TRUE(Subscribe(*stub, "", request).ok());
  (*request.mutable_filter()->mutable_attributes())["env"] = "prod";
  ExpectCode(Subscribe(*stub, "", request), grpc::StatusCode::INVALID_ARGUMENT,
             "filter has 3 event types and attributes, over "
             "limits.max_filter_size (2)");
}

TEST_F(SecurityTest, SubscribersPerPeerAreLimited) {
  StartDaemon({"--max-subscribers-per-peer", "2"});
  auto stub = PlainStub();
  auto first = std::make_unique<TestSubscriber>(*stub, v1::SubscribeRequest());
  TestSubscriber second(*stub, {});
  ExpectCode(Subscribe(*stub), grpc::StatusCode::RESOURCE_EXHAUSTED,
             "holds 2 subscriptions: limits.max_subscribers_per_peer is 2");
  // A stream that ends gives its slot back.
  first->Cancel();
  first.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  grpc::Status status;
  do {
    status = Subscribe(*stub);
  } while (!status.ok() && absl::Now() < deadline);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(SecurityTest, PublishRateIsLimitedPerPeer) {
  StartDaemon(
      {"--publish-rate-per-peer", "1", "--publish-burst-per-peer", "3"});
  auto stub = PlainStub();
  const absl::Time start = absl::Now();
  int accepted = 0;
  grpc::Status status;
  for (int i = 0; i < 50 && status.ok(); ++i) {
    status = Publish(*stub);
    if (status.ok()) ++accepted;
  }
  ExpectCode(status, grpc::StatusCode::RESOURCE_EXHAUSTED,
             "publishes faster than limits.publish_rate_per_peer (1 events/s, "
             "burst 3)");
  // The burst, plus one per second the loop took.
  EXPECT_GE(accepted, 3);
  EXPECT_LE(accepted, 3 + absl::ToInt64Seconds(absl::Now() - start) + 1);
}

// A PublishStream is held to the same per-event limits as unary Publish:
// the refused event ends the stream after the acknowledgements before it.
TEST_F(SecurityTest, PublishStreamObeysRateAndAttributeLimits) {
  StartDaemon({"--publish-rate-per-peer", "1", "--publish-burst-per-peer", "3",
               "--max-attributes", "2"});
  auto stub = PlainStub();
  // Writes `events`, then returns how many were acknowledged and the status.
  auto publish_stream = [&stub](const std::vector<v1::Event>& events) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto stream = stub->PublishStream(&context);
    for (const v1::Event& event : events) {
      v1::PublishStreamRequest request;
      *request.mutable_event() = event;
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    int acks = 0;
    v1::PublishStreamResponse response;
    while (stream->Read(&response)) acks += response.acks_size();
    return std::make_pair(acks, stream->Finish());
  };
  v1::Event too_many = FullAuditEvent();  // two attributes
  (*too_many.mutable_attributes())["third"] = "x";
  auto [acks, status] = publish_stream({FullAuditEvent(), too_many});
  EXPECT_EQ(acks, 1);
  ExpectCode(status, grpc::StatusCode::INVALID_ARGUMENT,
             "over limits.max_attributes (2)");
  // One token of the burst of 3 remains (the refused event spent one too),
  // plus one per second.
  std::tie(acks, status) =
      publish_stream(std::vector<v1::Event>(50, FullAuditEvent()));
  EXPECT_GE(acks, 1);
  EXPECT_LT(acks, 10);
  ExpectCode(status, grpc::StatusCode::RESOURCE_EXHAUSTED,
             "limits.publish_rate_per_peer");
}

TEST_F(SecurityTest, ReceiveSizeFollowsTheEventLimit) {
  v1::Event big = FullAuditEvent();
  big.mutable_audit()->set_metadata(std::string(6 << 20, 'm'));
  // gRPC's default would refuse 6 MiB; the daemon raises it with the limit.
  StartDaemon({"--max-event-bytes", "8MiB"});
  EXPECT_TRUE(Publish(*PlainStub(), "", big).ok());
  // Under the default 1 MiB limit: the bus refuses 2 MiB, gRPC 6 MiB.
  StartDaemon({});
  v1::Event two_mib = FullAuditEvent();
  two_mib.mutable_audit()->set_metadata(std::string(2 << 20, 'm'));
  ExpectCode(Publish(*PlainStub(), "", two_mib),
             grpc::StatusCode::INVALID_ARGUMENT, "max_event_bytes");
  ExpectCode(Publish(*PlainStub(), "", big),
             grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(SecurityTest, KeepaliveDropsADeadPeer) {
  StartDaemon({"--keepalive-time", "1s", "--keepalive-timeout", "1s"});
  auto client =
      ChildProcess::Start({HANGING_SUBSCRIBER_PATH, daemon_->address()});
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->AwaitStdout("subscribed", absl::Seconds(10)));
  auto stub = PlainStub();
  v1::PublishResponse response;
  ASSERT_TRUE(Publish(*stub, "", FullAuditEvent(), &response).ok());
  ASSERT_EQ(response.subscribers(), 1u);
  // Frozen, the client answers no ping: its connection is dead though open.
  (*client)->Signal(SIGSTOP);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    ASSERT_TRUE(Publish(*stub, "", FullAuditEvent(), &response).ok());
  } while (response.subscribers() != 0 && absl::Now() < deadline);
  EXPECT_EQ(response.subscribers(), 0u);
}

}  // namespace
}  // namespace eventbus
