#version 450
// meson's probe: does this glslc compile the constructs attention_coopmat.comp uses?
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(constant_id = 0) const uint M = 16;
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer Out { float x[]; };
shared float16_t sA[M * M];
shared float sC[M * M];
void main()
{
    coopmat<float16_t, gl_ScopeSubgroup, M, M, gl_MatrixUseA> a;
    coopmat<float16_t, gl_ScopeSubgroup, M, M, gl_MatrixUseB> b;
    coopmat<float, gl_ScopeSubgroup, M, M, gl_MatrixUseAccumulator> c =
        coopmat<float, gl_ScopeSubgroup, M, M, gl_MatrixUseAccumulator>(0.0);
    coopMatLoad(a, sA, 0, M, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(b, sA, 0, M, gl_CooperativeMatrixLayoutColumnMajor);
    c = coopMatMulAdd(a, b, c);
    coopMatStore(c, sC, 0, M, gl_CooperativeMatrixLayoutRowMajor);
    x[0] = sC[gl_LocalInvocationID.x];
}
