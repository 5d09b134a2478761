// Which sanitizer this build runs under, for the few places that must know
// (GCC defines __SANITIZE_*__; clang answers __has_feature).
#pragma once

#if defined(__SANITIZE_THREAD__)
#define AGENT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AGENT_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define AGENT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AGENT_ASAN 1
#endif
#endif

namespace agent {

#if defined(AGENT_TSAN)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
#if defined(AGENT_ASAN)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace agent
