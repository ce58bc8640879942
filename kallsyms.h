/* kallsyms.h — the kernel's symbol table, decoded from its memory
 * (kallsyms.c).
 */
#ifndef GPUFAS_KALLSYMS_H
#define GPUFAS_KALLSYMS_H

#include "core.h"

/* Only the names asked for (strings that outlive the table) are looked
 * up; symtab_count() is the kernel's whole count. */
#define KALLSYMS_MAX_WANTED 63
struct gf_symtab;
struct vmcoreinfo;
int kallsyms_load(const struct gf_kernel *k, const struct vmcoreinfo *vi,
		  const char *const *names, uint32_t nnames,
		  struct gf_symtab **out, char *err, size_t errlen);
int symtab_lookup(const struct gf_symtab *s, const char *name, uint64_t *va);
uint32_t symtab_count(const struct gf_symtab *s);
struct gf_symtab *symtab_new(uint32_t count);
int symtab_add(struct gf_symtab *s, const char *name, uint64_t va);
void symtab_free(struct gf_symtab *s);

#endif
