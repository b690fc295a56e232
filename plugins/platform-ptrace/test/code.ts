/**
 * Hand-assembled x86-64 test routines (bytes as GNU as emits them for the Intel syntax
 * shown). They are laid out one after another at the start of a code page; `CODE.at`
 * gives each routine's offset. Data lives at DATA (0x401000), read-only page at 0x402000.
 */
type Routine = [name: string, insns: [hex: string, asm: string][]];

const ROUTINES: Routine[] = [
  [
    'basic',
    [
      ['bf 0b 00 00 00', 'mov edi, 11'],
      ['be 16 00 00 00', 'mov esi, 22'],
      ['ba 21 00 00 00', 'mov edx, 33'],
      ['41 ba 2c 00 00 00', 'mov r10d, 44'],
      ['41 b8 37 00 00 00', 'mov r8d, 55'],
      ['41 b9 42 00 00 00', 'mov r9d, 66'],
      ['b8 27 00 00 00', 'mov eax, 39            ; getpid'],
      ['0f 05', 'syscall'],
      ['48 89 04 25 00 10 40 00', 'mov [0x401000], rax'],
      ['48 89 c7', 'mov rdi, rax'],
      ['b8 e7 00 00 00', 'mov eax, 231           ; exit_group(rax)'],
      ['0f 05', 'syscall'],
      ['0f 0b', 'ud2'],
    ],
  ],
  [
    'hostnot',
    [
      ['bf 03 00 00 00', 'mov edi, 3             ; write(3 = the memory file in the stub,'],
      ['be 00 10 40 00', 'mov esi, 0x401000      ;       data page,'],
      ['ba 08 00 00 00', 'mov edx, 8             ;       8)'],
      ['b8 01 00 00 00', 'mov eax, 1'],
      ['0f 05', 'syscall'],
      ['4c 89 e7', 'mov rdi, r12            ; kill(r12 = host pid of the stub, SIGKILL)'],
      ['be 09 00 00 00', 'mov esi, 9'],
      ['b8 3e 00 00 00', 'mov eax, 62'],
      ['0f 05', 'syscall'],
      ['31 ff', 'xor edi, edi'],
      ['b8 e7 00 00 00', 'mov eax, 231           ; exit_group(0)'],
      ['0f 05', 'syscall'],
      ['0f 0b', 'ud2'],
    ],
  ],
  ['loadfault', [['48 8b 04 25 00 00 00 10', 'mov rax, [0x10000000]']]],
  ['storero', [['48 89 04 25 00 20 40 00', 'mov [0x402000], rax']]],
  [
    'jmpnx',
    [
      ['b8 00 10 40 00', 'mov eax, 0x401000'],
      ['ff e0', 'jmp rax                ; into the non-executable data page'],
    ],
  ],
  ['undef', [['0f 0b', 'ud2']]],
  ['brk', [['cc', 'int3']]],
  [
    'divz',
    [
      ['31 c9', 'xor ecx, ecx'],
      ['f7 f1', 'div ecx'],
    ],
  ],
  [
    'loop',
    [
      ['b8 27 00 00 00', 'l: mov eax, 39         ; getpid'],
      ['0f 05', 'syscall'],
      ['49 01 45 00', 'add [r13], rax'],
      ['49 ff cc', 'dec r12'],
      ['75 f0', 'jnz l'],
      ['49 8b 7d 00', 'mov rdi, [r13]'],
      ['b8 e7 00 00 00', 'mov eax, 231           ; exit_group([r13])'],
      ['0f 05', 'syscall'],
    ],
  ],
  ['spin', [['eb fe', 'jmp .']]],
  [
    'fp',
    [
      ['f3 0f 7f 04 25 00 10 40 00', 'movdqu [0x401000], xmm0'],
      ['f3 0f 6f 0c 25 10 10 40 00', 'movdqu xmm1, [0x401010]'],
      ['b8 27 00 00 00', 'mov eax, 39'],
      ['0f 05', 'syscall'],
      ['b8 e7 00 00 00', 'mov eax, 231'],
      ['0f 05', 'syscall'],
    ],
  ],
  [
    'getuid',
    [
      ['b8 66 00 00 00', 'mov eax, 102           ; getuid'],
      ['0f 05', 'syscall'],
    ],
  ],
  ['busload', [['48 8b 04 25 00 00 50 00', 'mov rax, [0x500000]']]],
  [
    'exit',
    [
      ['b8 e7 00 00 00', 'mov eax, 231           ; exit_group(rdi)'],
      ['0f 05', 'syscall'],
    ],
  ],
];

function assemble(): { bytes: Uint8Array; at: Record<string, number> } {
  const out: number[] = [];
  const at: Record<string, number> = {};
  for (const [name, insns] of ROUTINES) {
    at[name] = out.length;
    for (const [hex] of insns) for (const b of hex.split(' ')) out.push(parseInt(b, 16));
  }
  return { bytes: Uint8Array.from(out), at };
}

export const CODE = assemble();
export const CODE_ADDR = 0x400000;
export const DATA_ADDR = 0x401000;
export const RO_ADDR = 0x402000;
