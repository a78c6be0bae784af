/*
 * embed.h — a file's bytes compiled into the binary (the web pages' HTML, CSS, JavaScript).
 *
 * CG_EMBED(name, "src/path/file") defines const char name[] holding the file's bytes,
 * followed by a NUL, and name_end[] just past the last byte (before the NUL). It uses the
 * assembler's .incbin, so no generator has to run at build time: the path is relative to
 * the directory the compiler runs in (the repository root, as the Makefile does), and the
 * Makefile lists the files as prerequisites of the object that embeds them.
 */
#ifndef CG_EMBED_H
#define CG_EMBED_H

#define CG_EMBED(name, file)                                                                       \
    __asm__(".section .rodata\n.balign 16\n" #name ":\n.incbin \"" file "\"\n" #name               \
            "_end:\n.byte 0\n.previous\n");                                                        \
    extern const char name[], name##_end[]

#endif
