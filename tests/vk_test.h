/* What the Check tests that run on a Vulkan device share: a context with validation on whose
 * messages are counted (any message fails the executable), and the runner. */
#ifndef VKATTN_TESTS_VK_TEST_H
#define VKATTN_TESTS_VK_TEST_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkattn/vkattn.h"

/* Validation messages seen so far (printed on stderr as they come). */
extern unsigned vk_test_messages;
void vk_test_on_message(void *user, const char *message);

/* A context on the default device with validation on; NULL (message printed) when there is no
 * Vulkan device: the test then exits 77 (skipped). */
vkattn_context vk_test_context(void);

/* A desc that borrows owner's device (its instance, device, queue and loader entry), with the
 * features vkattn's own devices enable where the device has them: push descriptors and 16-bit
 * storage. Validation messages go to vk_test_on_message. */
vkattn_context_desc vk_test_borrowed_desc(vkattn_context owner);

/* Fills q, k and v (nq, nk and nk elements of dtype) with N(0, 1) values from seed. */
void vk_test_fill_qkv(vkattn_dtype dtype, uint64_t seed, void *q, size_t nq, void *k, void *v,
                      size_t nk);

/* Runs every test of s in this process, destroys ctx and returns the exit status: 0 when all
 * passed and no validation message came, else 1. */
int vk_test_run(Suite *s, vkattn_context ctx);

#endif
