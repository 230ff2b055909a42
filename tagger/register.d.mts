// register.mjs installs module hooks and exports nothing.
export {};
