/* The cooperative-matrix shapes (M x N x K, f16 x f16 + f32 -> f32, subgroup scope) that the
 * coopmat kernel is compiled for, in order of preference: one SPIR-V module each, since matrix
 * sides must be constants that validation and drivers see as such. 16x16x16: NVIDIA, AMD,
 * Arm; 8x16x16: Intel; 8x8x8: lavapipe. shaders/meson.build compiles the same list. */
#ifndef VKATTN_COOPMAT_SHAPES_H
#define VKATTN_COOPMAT_SHAPES_H

#define VKATTN_COOPMAT_SHAPES(X) X(16, 16, 16) X(8, 16, 16) X(8, 8, 8)

#endif
