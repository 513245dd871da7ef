// The addon's entry: one instance per Node environment (main thread or worker), holding nothing
// but the Loop class and the connection-id source; each JavaScript thread creates its own Loop.
#include <napi.h>

#include "loop.h"

class RxloopAddon : public Napi::Addon<RxloopAddon> {
 public:
  RxloopAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceValue("Loop", rxloop::Loop::Define(env), napi_enumerable),
                             InstanceMethod<&RxloopAddon::NextConnectionId>("nextConnectionId"),
                         });
  }

 private:
  Napi::Value NextConnectionId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(rxloop::NextConnectionId()));
  }
};

NODE_API_ADDON(RxloopAddon)
