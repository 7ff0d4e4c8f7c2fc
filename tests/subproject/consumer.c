/* Runs one attention on the default device and checks it against the CPU reference. */
#include <math.h>
#include <stdio.h>

#include <vkattn/vkattn.h>

int main(void)
{
    enum { B = 1, H = 2, S = 40, D = 32, N = B * H * S * D };
    static float q[N], k[N], v[N], o[N], o_ref[N];
    for (int i = 0; i < N; ++i) {
        q[i] = (float)sin(i * 0.37);
        k[i] = (float)cos(i * 0.11);
        v[i] = (float)sin(i * 0.05 + 1.0);
    }
    vkattn_problem p = {.batch = B, .heads_q = H, .seq_q = S, .seq_kv = S, .head_dim = D,
                        .causal = true};
    vkattn_host_tensors t = {.q = q, .k = k, .v = v, .out = o_ref};
    char msg[256];
    if (vkattn_reference(&p, &t, msg, sizeof msg) != VKATTN_SUCCESS) {
        fprintf(stderr, "reference: %s\n", msg);
        return 1;
    }
    vkattn_context ctx;
    vkattn_result r = vkattn_context_create(NULL, &ctx);
    if (r != VKATTN_SUCCESS) {
        fprintf(stderr, "context: %s\n", vkattn_result_string(r));
        return 1;
    }
    t.out = o;
    r = vkattn_attention(ctx, &p, &t);
    if (r != VKATTN_SUCCESS)
        fprintf(stderr, "attention: %s: %s\n", vkattn_result_string(r), vkattn_context_message(ctx));
    vkattn_context_destroy(ctx);
    double err = 0;
    for (int i = 0; i < N; ++i)
        err = fmax(err, fabs((double)o[i] - o_ref[i]));
    printf("vkattn %s as a subproject: max |O - O_ref| = %.2e\n", VKATTN_VERSION_STRING, err);
    return r == VKATTN_SUCCESS && err <= 1e-4 ? 0 : 1;
}
